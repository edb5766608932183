// Behaviour Profiles web UI: client-side pages over the Copilot JSON API of the same origin.
//
// Pages (every path answers the same HTML shell):
//   /ui/                                 list, with filters and baseline marks
//   /ui/create                           create a profile from a time range
//   /ui/profiles/{id}                    one profile: metrics, config snapshot, versions
//   /ui/profiles/{id}/conformance        the profile checked against a preset (?preset=NAME)
//   /ui/compare?a={id}&b={id}            A and B compared (&statistic=p99&all=1)
//   /ui/drift?cluster=C&namespace=N      a window judged against the active baseline of C / N
//   /ui/envelope?cluster=C&label=L       a load sweep's capacity envelope (&namespace=N&preset=P, or ?ids=a,b,c)
//
// Data from the API is only ever put into the page as text (h() below never parses HTML), so a
// profile named "<script>" is shown as just that.
"use strict";

(() => {
  const TOKEN_KEY = "copilot.apiToken";
  const CATALOGUE = JSON.parse(document.getElementById("catalogue").textContent || "{}");
  // How the server writes numbers and bounds (behaviour_profiles.formatting), and its constants.
  const RULES = JSON.parse(document.getElementById("ui-rules").textContent || "{}");
  const FORMAT = RULES.format;
  const CONSTANTS = RULES.constants;
  const CATEGORY_TITLES = {
    throughput: "Throughput",
    latency: "Latency",
    matching: "Matching",
    dsql_pool: "DSQL connection pool",
    errors: "Errors",
    resources: "Resources",
  };
  const SEVERITY_RANK = Object.fromEntries(CONSTANTS.severities.map((severity, rank) => [severity, rank]));
  const STATISTICS = CONSTANTS.statistics;
  const CONFIG_PARTS = [
    ["environment", "Environment"],
    ["dsql_plugin", "DSQL plugin settings"],
    ["dynamic_config", "Dynamic config"],
    ["worker_options", "Worker options"],
  ];
  const COLOUR_A = "#5b7083";
  const COLOUR_B = "#e8590c";
  const MAX_WINDOW_MS = CONSTANTS.max_window_seconds * 1000;

  const main = document.getElementById("app");
  let renderSeq = 0; // a page render that is no longer the current one stops touching the page
  let flash = null; // a message carried to the next page (e.g. "profile created")

  // --- DOM --------------------------------------------------------------------------------------

  // h("a", {href: "/ui/", class: "x", onclick: fn}, "text", child, [more]) -> Element.
  // Strings become text nodes; null, undefined and false children are skipped.
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
      else if (key === "class") el.className = value;
      else if (key === "dataset") Object.assign(el.dataset, value);
      else if (value === true) el.setAttribute(key, "");
      else el.setAttribute(key, String(value));
    }
    append(el, children);
    return el;
  }

  function append(el, children) {
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  function badge(text, kind, title) {
    return h("span", { class: `badge ${kind || ""}`, title }, text);
  }

  function loading(text) {
    return h("div", { class: "loading", role: "status" }, h("span", { class: "spinner", "aria-hidden": "true" }), text);
  }

  function section(title, ...children) {
    return h("section", { class: "card" }, title ? h("h2", {}, title) : null, children);
  }

  // headers: "Name" or ["Name", "num"] for a right-aligned numeric column.
  function table(headers, rows, attrs) {
    const th = (spec) => (Array.isArray(spec) ? h("th", { scope: "col", class: spec[1] }, spec[0]) : h("th", { scope: "col" }, spec));
    return h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        attrs || {},
        h("thead", {}, h("tr", {}, headers.map(th))),
        h("tbody", {}, rows),
      ),
    );
  }

  function nextFrame() {
    return new Promise((resolve) => requestAnimationFrame(() => resolve()));
  }

  // --- the API ----------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, title, detail, extra) {
      super(detail);
      this.status = status;
      this.title = title;
      this.detail = detail;
      this.errors = (extra && extra.errors) || [];
      this.dependency = extra && extra.dependency;
      this.hint = extra && extra.hint;
    }
  }

  function savedToken() {
    try {
      return localStorage.getItem(TOKEN_KEY) || "";
    } catch {
      return "";
    }
  }

  const RETRY_AFTER_LIMIT_S = 120; // the longest Retry-After a page waits out (the API's are at most a minute)

  function retryAfterSeconds(response) {
    const value = (response.headers.get("Retry-After") || "").trim();
    return /^\d+$/.test(value) && Number(value) <= RETRY_AFTER_LIMIT_S ? Number(value) : null;
  }

  function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  // The one way the pages talk to the API: JSON in, JSON out, problem+json turned into ApiError.
  // options.onRateLimited(seconds): when given, a 429 with Retry-After is waited out once (the callback
  // shows the wait) and the request is sent again; nothing was done by the refused one.
  async function apiRequest(method, path, options = {}) {
    const first = await apiSend(method, path, options);
    if (first.status !== 429 || !options.onRateLimited) return apiResult(first);
    const wait = retryAfterSeconds(first.response);
    if (wait === null) return apiResult(first);
    options.onRateLimited(wait);
    await sleep(wait * 1000);
    return apiResult(await apiSend(method, path, options));
  }

  async function apiSend(method, path, options) {
    const url = new URL(path, window.location.origin);
    for (const [key, value] of Object.entries(options.query || {})) {
      if (value !== null && value !== undefined && value !== "") url.searchParams.set(key, value);
    }
    const headers = { Accept: "application/json, application/problem+json" };
    const token = savedToken();
    if (token) headers.Authorization = `Bearer ${token}`;
    const init = { method, headers };
    if (options.body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(options.body);
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch (err) {
      throw new ApiError(0, "API unreachable", `Could not reach the Copilot API at ${window.location.origin} (${err.message}). Is it still running?`);
    }
    return { status: response.status, response, text: await response.text(), token };
  }

  function apiResult({ response, text, token }) {
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!response.ok) {
      const problem = data && typeof data === "object" ? data : {};
      const detail = typeof problem.detail === "string" ? problem.detail : text.slice(0, 300) || response.statusText;
      let hint = null;
      if (response.status === 401) {
        hint = token
          ? "The saved API token was refused: check the token field at the top of the page."
          : "This API needs a token: enter it in the API token field at the top of the page and try again.";
      } else if (response.status === 429) {
        const retry = response.headers.get("Retry-After");
        hint = retry ? `Too many profiles created in the last minute: try again in ${retry} s.` : null;
      }
      throw new ApiError(response.status, problem.title || response.statusText || "Error", detail, {
        errors: problem.errors,
        dependency: problem.dependency,
        hint,
      });
    }
    return { data, headers: response.headers };
  }

  async function api(method, path, options) {
    return (await apiRequest(method, path, options)).data;
  }

  function errorBox(err, context) {
    if (!(err instanceof ApiError)) {
      console.error(err);
      return h("div", { class: "error", role: "alert" }, h("strong", {}, context || "Something went wrong"), h("p", {}, String(err && err.message)));
    }
    const head = err.status ? `HTTP ${err.status} · ${err.title}` : err.title;
    return h(
      "div",
      { class: "error", role: "alert" },
      h("strong", {}, context ? `${context}: ${head}` : head),
      h("p", { class: "detail" }, err.detail),
      err.dependency ? h("p", { class: "muted" }, `Dependency: ${err.dependency}`) : null,
      err.hint ? h("p", { class: "hint" }, err.hint) : null,
    );
  }

  // --- formatting -------------------------------------------------------------------------------

  // The server's rules, applied as behaviour_profiles.formatting applies them.

  // `value` with `decimals` decimals (halves away from zero) and thousands separators.
  function fixed(value, decimals) {
    const [whole, fraction] = value.toFixed(Math.min(decimals, FORMAT.max_decimals)).split(".");
    const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return fraction === undefined ? grouped : `${grouped}.${fraction}`;
  }

  // Significant digits below FORMAT.whole_from, whole from there on; never an exponent.
  function formatNumber(value, minDecimals = 0) {
    if (!Number.isFinite(value)) return String(value);
    if (value === 0) return fixed(0, minDecimals);
    const magnitude = Math.abs(value);
    if (magnitude >= FORMAT.whole_from) return fixed(value, minDecimals);
    const exponent = Number(magnitude.toExponential().split("e")[1]);
    const decimals = Math.max(minDecimals, FORMAT.significant_digits - 1 - exponent);
    const text = fixed(value, decimals);
    if (decimals <= minDecimals) return text;
    const [whole, fraction = ""] = text.split(".");
    const kept = fraction.replace(/0+$/, "").padEnd(minDecimals, "0");
    return kept ? `${whole}.${kept}` : whole;
  }

  // A value in its catalogue unit, e.g. "37.1 ms", "95.0 %", "150/s", "410 MiB".
  function formatValue(value, unit) {
    if (value === null || value === undefined) return FORMAT.no_value;
    let number = Number(value);
    if (!Number.isFinite(number)) return FORMAT.no_value;
    const rule = FORMAT.units[unit || ""] || { suffix: ` ${unit}`, scale: 1, min_decimals: 0, larger_from: null, prefixes: [] };
    number *= rule.scale;
    let suffix = rule.suffix;
    if (rule.larger_from !== null && Math.abs(number) >= rule.larger_from) {
      number /= rule.larger_divisor;
      suffix = rule.larger_suffix;
    }
    if (rule.prefixes.length) {
      let step = 0;
      while (Math.abs(number) >= rule.prefix_step && step < rule.prefixes.length - 1) {
        number /= rule.prefix_step;
        step += 1;
      }
      suffix = ` ${rule.prefixes[step]}`;
    }
    return formatNumber(number, rule.min_decimals) + suffix;
  }

  function formatPct(pct) {
    const size = Math.abs(pct);
    return `${pct < 0 ? "-" : "+"}${fixed(size, size >= FORMAT.pct_whole_from ? 0 : FORMAT.pct_decimals)} %`;
  }

  // "+312 %", "-4.5 %", or beyond ten times the old value a multiple ("×5,064"), as the API words it.
  function formatChange(pct) {
    if (pct === null || pct === undefined) return FORMAT.no_value;
    const factor = 1 + Number(pct) / 100;
    if (factor > FORMAT.multiple_from) return `${FORMAT.times}${fixed(factor, factor >= FORMAT.multiple_whole_from ? 0 : FORMAT.multiple_decimals)}`;
    return formatPct(Number(pct));
  }

  function formatThreshold(pct) {
    return `${Number(Number(pct).toPrecision(FORMAT.threshold_digits))} %`;
  }

  function formatP(p) {
    return p < FORMAT.p_floor ? `< ${FORMAT.p_floor}` : fixed(p, FORMAT.p_decimals);
  }

  // "1 h", "1 h 30 min", "45 s".
  function formatSpan(seconds) {
    let rest = Math.round(seconds);
    const parts = [];
    for (const [name, size] of FORMAT.span_units) {
      const count = Math.floor(rest / size);
      rest -= count * size;
      if (count) parts.push(`${count} ${name}`);
    }
    return parts.join(" ") || `0 ${FORMAT.span_units[FORMAT.span_units.length - 1][0]}`;
  }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, (_, name) => values[name]);
  }

  const known = (value) => value !== null && value !== undefined;

  // A bound in the conformance check's words: "expected under 60 ms; fails at 150 ms or more".
  function boundText(bound, unit) {
    const words = FORMAT.bound_words;
    const low = known(bound.warn_min) ? formatValue(bound.warn_min, unit) : null;
    const high = known(bound.warn_max) ? formatValue(bound.warn_max, unit) : null;
    let expected = words.any;
    if (low !== null && high !== null) expected = fill(words.between, { low, high });
    else if (low !== null) expected = fill(words.at_least, { low });
    else if (high !== null) expected = fill(words.under, { high });
    const limits = [];
    if (known(bound.min)) limits.push(fill(words.fails_under, { min: formatValue(bound.min, unit) }));
    if (known(bound.max)) limits.push(fill(words.fails_at, { max: formatValue(bound.max, unit) }));
    return fill(words.bound, { expected, limits: limits.join(words.limits_joined_by) || words.no_limit });
  }

  function pad(n) {
    return String(n).padStart(2, "0");
  }

  // "2026-02-18 10:00 UTC" (seconds only when there are any).
  function fmtTime(iso, withZone = true) {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso);
    const secs = d.getUTCSeconds() ? `:${pad(d.getUTCSeconds())}` : "";
    const text = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}${secs}`;
    return withZone ? `${text} UTC` : text;
  }

  function fmtWindow(start, end) {
    const a = new Date(start);
    const b = new Date(end);
    const sameDay = a.toISOString().slice(0, 10) === b.toISOString().slice(0, 10);
    const endText = sameDay ? fmtTime(end, false).slice(11) : fmtTime(end, false);
    return `${fmtTime(start, false)} → ${endText} UTC (${formatSpan((b - a) / 1000)})`;
  }

  function unitName(unit) {
    return { "1/s": "per second", ratio: "ratio (%)", ms: "milliseconds", s: "seconds" }[unit] || unit || "";
  }

  function metricTitle(key, fallback) {
    return (CATALOGUE[key] && CATALOGUE[key].title) || fallback || key;
  }

  function shortId(id) {
    return String(id).slice(0, 8);
  }

  function scope(profile) {
    return [profile.cluster_id, profile.namespace || "*", profile.task_queue].filter(Boolean).join(" / ");
  }

  function isRedacted(value) {
    return typeof value === "string" && value.startsWith("<redacted");
  }

  // A configuration value as nodes: redacted secrets as a badge, structures as nested lists.
  function valueNode(value) {
    if (value === null || value === undefined) return h("span", { class: "muted" }, "null");
    if (isRedacted(value)) {
      const fingerprint = value.replace(/^<redacted:?/, "").replace(/>$/, "");
      return badge("redacted", "redacted", fingerprint ? `secret removed; fingerprint ${fingerprint}` : "secret removed");
    }
    if (Array.isArray(value)) {
      if (value.length === 0) return h("code", {}, "[]");
      if (value.every((item) => item === null || typeof item !== "object")) {
        return h("span", {}, value.map((item, i) => [i ? ", " : "", valueNode(item)]));
      }
      return h("ol", { class: "value-list" }, value.map((item) => h("li", {}, valueNode(item))));
    }
    if (typeof value === "object") {
      const entries = Object.entries(value);
      if (entries.length === 0) return h("code", {}, "{}");
      return h("dl", { class: "value-map" }, entries.map(([k, v]) => [h("dt", {}, k), h("dd", {}, valueNode(v))]));
    }
    return h("code", {}, typeof value === "string" ? value : JSON.stringify(value));
  }

  // --- charts -------------------------------------------------------------------------------------

  function plotlyReady() {
    return typeof window.Plotly === "object" && window.Plotly !== null;
  }

  // Plotly reads text as a small HTML subset: anything we give it from data is escaped first.
  function plotlyText(text) {
    return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  function axisFormat(unit) {
    switch (unit) {
      case "ratio":
        return { tickformat: ".0%", hover: ".1%", suffix: "" };
      case "bytes":
        return { tickformat: "~s", hover: ".3~s", suffix: " MiB", scale: 1 / 1048576 };
      case "1/s":
        return { tickformat: "~s", hover: ".3~s", suffix: "/s" };
      case "ms":
        return { tickformat: "~s", hover: ".3~s", suffix: " ms" };
      case "s":
        return { tickformat: "~s", hover: ".3~s", suffix: " s" };
      default:
        // Long units (connections, tasks, cores) stay off the axis: the card names them.
        return { tickformat: "~s", hover: ".3~s", suffix: "" };
    }
  }

  function utcString(unixSeconds) {
    return new Date(unixSeconds * 1000).toISOString().slice(0, 19).replace("T", " ");
  }

  const PLOT_CONFIG = { displayModeBar: false, responsive: true };

  function baseLayout(unit, height) {
    const fmt = axisFormat(unit);
    return {
      height,
      margin: { l: 52, r: 10, t: 8, b: 28 },
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      font: { family: "system-ui, sans-serif", size: 11, color: "#495057" },
      yaxis: { tickformat: fmt.tickformat, ticksuffix: plotlyText(fmt.suffix), gridcolor: "#e9ecef", zeroline: false, rangemode: "tozero" },
      hovermode: "x unified",
      showlegend: false,
    };
  }

  // One metric's stored series over its window (x in UTC).
  function drawSeries(el, metric) {
    const fmt = axisFormat(metric.unit);
    const trace = {
      x: metric.series.map(([t]) => utcString(t)),
      y: metric.series.map(([, v]) => v * (fmt.scale || 1)),
      type: "scatter",
      mode: "lines",
      line: { color: COLOUR_A, width: 1.5 },
      hovertemplate: `%{y:${fmt.hover}}${plotlyText(fmt.suffix)}<extra></extra>`,
    };
    const layout = baseLayout(metric.unit, 120);
    layout.xaxis = { type: "date", tickformat: "%H:%M", showgrid: false, hoverformat: "%Y-%m-%d %H:%M:%S UTC" };
    return window.Plotly.newPlot(el, [trace], layout, PLOT_CONFIG);
  }

  // A and B of one metric overlaid, each on minutes since the start of its own window.
  function drawOverlay(el, unit, seriesA, seriesB, startA, startB) {
    const fmt = axisFormat(unit);
    const minutes = (series, start) => series.map(([t]) => (t - start) / 60);
    const trace = (series, start, name, colour) => ({
      x: minutes(series, start),
      y: series.map(([, v]) => v * (fmt.scale || 1)),
      name,
      type: "scatter",
      mode: "lines",
      line: { color: colour, width: 1.6 },
      hovertemplate: `${name}: %{y:${fmt.hover}}${plotlyText(fmt.suffix)}<extra></extra>`,
    });
    const layout = baseLayout(unit, 170);
    layout.showlegend = true;
    layout.legend = { orientation: "h", x: 1, xanchor: "right", y: 1.12, font: { size: 10 } };
    layout.margin.t = 16;
    layout.xaxis = { title: { text: "minutes into window", font: { size: 10 }, standoff: 2 }, showgrid: false, ticksuffix: "" };
    layout.margin.b = 36;
    return window.Plotly.newPlot(
      el,
      [trace(seriesA, startA, "A", COLOUR_A), trace(seriesB, startB, "B", COLOUR_B)],
      layout,
      PLOT_CONFIG,
    );
  }

  // Draw queued charts a few per frame so that a page of thirty charts stays responsive.
  async function drawAll(jobs, isCurrent) {
    if (!plotlyReady()) {
      for (const job of jobs) job.el.replaceChildren(h("p", { class: "muted" }, "Charts unavailable: plotly.min.js did not load."));
      return;
    }
    for (let i = 0; i < jobs.length; i += 1) {
      if (!isCurrent()) return;
      try {
        await jobs[i].draw();
      } catch (err) {
        console.error(err);
        jobs[i].el.replaceChildren(h("p", { class: "muted" }, "This chart could not be drawn."));
      }
      if (i % 4 === 3) await nextFrame();
    }
    main.dataset.chartsDrawn = String(jobs.length);
  }

  function purgeCharts() {
    if (!plotlyReady()) return;
    for (const el of main.querySelectorAll(".js-plotly-plot")) window.Plotly.purge(el);
  }

  // --- capacity envelope page ---------------------------------------------------------------------
  // A load sweep's profiles ordered by offered load: one chart per metric against offered load, the
  // preset's bounds drawn as lines, the breaking point and the last holding step marked.

  const ENVELOPE_STATUS = { held: "pass", warn: "warn", broken: "fail", inconclusive: "inconclusive" };
  const COLOUR_BREAK = "#e03131";
  const COLOUR_SAFE = "#2f9e44";
  const COLOUR_WARN = "#f59f00";

  function envelopeMarks(envelope, yref) {
    const line = (x, colour, dash, text) => ({
      shape: { type: "line", xref: "x", yref, x0: x, x1: x, y0: 0, y1: 1, line: { color: colour, width: 1.5, dash } },
      note: { x, y: 1, xref: "x", yref, text: plotlyText(text), showarrow: false, yanchor: "bottom", font: { size: 9, color: colour } },
    });
    const marks = [];
    if (envelope.safe_load !== null) marks.push(line(envelope.safe_load, COLOUR_SAFE, "dot", "held"));
    if (envelope.breaking_load !== null) marks.push(line(envelope.breaking_load, COLOUR_BREAK, "solid", "breaks"));
    return marks;
  }

  function drawEnvelopeMetric(el, envelope, metric) {
    const fmt = axisFormat(metric.unit);
    const scale = fmt.scale || 1;
    const steps = envelope.steps.filter((s) => s.values[metric.metric] !== null && s.values[metric.metric] !== undefined);
    const colour = (s) => {
      const breach = s.breaches.find((b) => b.metric === metric.metric);
      if (!breach) return COLOUR_A;
      return breach.status === "fail" ? COLOUR_BREAK : breach.status === "warn" ? COLOUR_WARN : COLOUR_A;
    };
    const trace = {
      x: steps.map((s) => s.offered_load),
      y: steps.map((s) => s.values[metric.metric] * scale),
      type: "scatter",
      mode: "lines+markers",
      line: { color: COLOUR_A, width: 1.5 },
      marker: { color: steps.map(colour), size: 8 },
      hovertemplate: `%{x:.3~s}/s offered: %{y:${fmt.hover}}${plotlyText(fmt.suffix)}<extra></extra>`,
    };
    const layout = baseLayout(metric.unit, 190);
    layout.hovermode = "closest";
    layout.margin.t = 18;
    layout.margin.b = 36;
    layout.xaxis = { title: { text: "offered load (workflows/s)", font: { size: 10 }, standoff: 2 }, showgrid: false, ticksuffix: "/s", tickformat: "~s" };
    const shapes = [];
    const notes = [];
    const bound = metric.bound;
    if (bound) {
      const level = (value, colour, dash, text) => {
        if (value === null || value === undefined) return;
        shapes.push({ type: "line", xref: "paper", yref: "y", x0: 0, x1: 1, y0: value * scale, y1: value * scale, line: { color: colour, width: 1, dash } });
        notes.push({ x: 1, y: value * scale, xref: "paper", yref: "y", text: plotlyText(text), showarrow: false, xanchor: "right", yanchor: "bottom", font: { size: 9, color: colour } });
      };
      level(bound.max, COLOUR_BREAK, "dash", "fails above");
      level(bound.warn_max, COLOUR_WARN, "dot", "warns above");
      level(bound.warn_min, COLOUR_WARN, "dot", "warns below");
      level(bound.min, COLOUR_BREAK, "dash", "fails below");
    }
    for (const mark of envelopeMarks(envelope, "paper")) {
      shapes.push(mark.shape);
      notes.push(mark.note);
    }
    layout.shapes = shapes;
    layout.annotations = notes;
    return window.Plotly.newPlot(el, [trace], layout, PLOT_CONFIG);
  }

  function drawEnvelopeThroughput(el, envelope) {
    const points = envelope.steps.filter((s) => s.throughput !== null);
    const ideal = { x: points.map((s) => s.offered_load), y: points.map((s) => s.offered_load), type: "scatter", mode: "lines", line: { color: "#ced4da", width: 1, dash: "dot" }, hoverinfo: "skip", name: "offered" };
    const trace = {
      x: points.map((s) => s.offered_load),
      y: points.map((s) => s.throughput),
      type: "scatter",
      mode: "lines+markers",
      line: { color: COLOUR_B, width: 2 },
      marker: { size: 8, color: points.map((s) => (s.profile_id === envelope.knee_profile_id ? COLOUR_BREAK : COLOUR_B)) },
      hovertemplate: "%{x:.3~s}/s offered: %{y:.3~s}/s completed<extra></extra>",
      name: "completed",
    };
    const layout = baseLayout("1/s", 230);
    layout.hovermode = "closest";
    layout.margin.t = 18;
    layout.margin.b = 36;
    layout.xaxis = { title: { text: "offered load (workflows/s)", font: { size: 10 }, standoff: 2 }, showgrid: false, ticksuffix: "/s", tickformat: "~s" };
    const marks = envelopeMarks(envelope, "paper");
    layout.shapes = marks.map((m) => m.shape);
    layout.annotations = marks.map((m) => m.note);
    if (envelope.knee_load !== null) {
      const knee = points.find((s) => s.profile_id === envelope.knee_profile_id);
      layout.annotations.push({ x: envelope.knee_load, y: knee ? knee.throughput : 0, xref: "x", yref: "y", text: "knee", showarrow: true, arrowhead: 2, ax: -30, ay: -25, font: { size: 10, color: COLOUR_BREAK } });
    }
    return window.Plotly.newPlot(el, [ideal, trace], layout, PLOT_CONFIG);
  }

  function envelopeResult(envelope, ctx) {
    const verdict = envelope.breaking_load === null ? "pass" : "fail";
    const first = envelope.first_broken[0];
    const summary = h(
      "div",
      {
        class: `verdict verdict-${verdict}`,
        id: "envelope-summary",
        dataset: {
          safeLoad: envelope.safe_load === null ? "" : String(envelope.safe_load),
          breakingLoad: envelope.breaking_load === null ? "" : String(envelope.breaking_load),
          firstBroken: first ? first.metric : "",
        },
      },
      h("div", { class: "verdict-word" }, envelope.breaking_load === null ? "HELD" : "BREAKS"),
      h(
        "div",
        {},
        h("p", { class: "summary" }, envelope.summary),
        h(
          "p",
          { class: "counts muted" },
          `${envelope.steps.length} steps · `,
          envelope.preset ? `bounds of preset ${envelope.preset}` : "each step against the lightest, by percent thresholds",
          envelope.safe_load !== null ? ` · held up to ${formatValue(envelope.safe_load, "1/s")}` : "",
          envelope.breaking_load !== null ? ` · broke at ${formatValue(envelope.breaking_load, "1/s")}` : "",
          envelope.knee_load !== null ? ` · knee at ${formatValue(envelope.knee_load, "1/s")}` : "",
        ),
        envelope.notes.length ? h("ul", { class: "notes" }, envelope.notes.map((n) => h("li", {}, n))) : null,
      ),
    );
    const rows = envelope.steps.map((s) => {
      const marks = [];
      if (s.profile_id === envelope.safe_profile_id) marks.push(badge("last held", "pass"));
      if (s.profile_id === envelope.breaking_profile_id) marks.push(badge("breaks", "fail"));
      if (s.profile_id === envelope.knee_profile_id) marks.push(badge("knee", "warn"));
      return h(
        "tr",
        { dataset: { profile: s.profile_id, status: s.status } },
        h("td", { class: "num" }, formatValue(s.offered_load, "1/s")),
        h("td", { class: "num" }, formatValue(s.throughput, "1/s")),
        h("td", {}, badge(s.status, ENVELOPE_STATUS[s.status] || ""), marks.length ? [" ", marks] : null),
        h(
          "td",
          {},
          s.breaches.length
            ? s.breaches.map((b, i) => [i ? "; " : "", h("span", { class: `breach breach-${b.status}`, title: b.reason }, `${b.metric} ${b.status} ${formatValue(b.observed, b.unit)} (limit ${formatValue(b.limit, b.unit)})`)])
            : h("span", { class: "muted" }, "every bound held"),
        ),
        h("td", {}, h("a", { href: `/ui/profiles/${encodeURIComponent(s.profile_id)}`, class: "profile-name" }, s.name)),
      );
    });
    const jobs = [];
    const throughputChart = h("div", { class: "chart", id: "envelope-throughput", "aria-label": "Throughput against offered load" });
    jobs.push({ el: throughputChart, draw: () => drawEnvelopeThroughput(throughputChart, envelope) });
    const cards = envelope.metrics.map((metric) => {
      const chart = h("div", { class: "chart", "aria-label": `${metricTitle(metric.metric, metric.title)} against offered load` });
      jobs.push({ el: chart, draw: () => drawEnvelopeMetric(chart, envelope, metric) });
      const broken = envelope.first_broken.some((b) => b.metric === metric.metric);
      return h(
        "article",
        { class: `metric-card envelope-chart ${broken ? "sev-card sev-critical" : ""}`, dataset: { metric: metric.metric, bounded: metric.bound ? "1" : "" } },
        h("header", {}, h("h3", {}, metricTitle(metric.metric, metric.title)), h("code", { class: "muted" }, `${metric.metric} (${metric.statistic})`), h("span", { class: "unit" }, unitName(metric.unit)), broken ? badge("first broken", "fail") : null),
        chart,
      );
    });
    const wrap = h(
      "div",
      {},
      summary,
      section("Steps, lightest first", table([["Offered load", "num"], ["Throughput", "num"], "Status", "Not held (value, limit)", "Profile"], rows, { id: "envelope-steps" })),
      section("Throughput against offered load", throughputChart),
      section("Each metric against offered load", h("p", { class: "muted" }, "Dashed: the bound's hard limit; dotted: its warning band. Green dotted: the last load that held; red: where it broke."), h("div", { class: "metric-grid", id: "envelope-grid" }, cards)),
    );
    drawAll(jobs, ctx.isCurrent);
    return wrap;
  }

  async function renderEnvelope(ctx, params) {
    setTitle("Capacity envelope");
    const text = (name, placeholder) => h("input", { id: `f-${name}`, name, type: "text", placeholder, maxlength: 200, value: params.get(name) || "" });
    const preset = h("select", { id: "f-preset", name: "preset" }, h("option", { value: "" }, "none: each step against the lightest"));
    const submit = h("button", { type: "submit", id: "envelope-submit" }, "Show the envelope");
    const result = h("div", { id: "envelope-result" });
    const form = h(
      "form",
      { class: "create-form", id: "envelope-form", novalidate: true },
      h(
        "fieldset",
        {},
        h("legend", {}, "Which profiles: a cluster with a label, or profile ids"),
        h("div", { class: "grid-3" }, field("cluster", "Cluster", text("cluster", "temporal-prod")), field("namespace", "Namespace", text("namespace", "default")), field("label", "Label", text("label", "load-sweep"))),
        field("ids", "Or profile ids (comma-separated)", text("ids", "id, id, id"), "Profiles of one cluster and namespace."),
      ),
      h("fieldset", {}, h("legend", {}, "Judged against"), field("preset", "Preset", preset, "A preset's bounds (its throughput range is the axis, not a bound); none: each step against the lightest with the deployment's thresholds.")),
      h("div", { class: "form-actions" }, submit),
    );
    main.append(pageHeader("Capacity envelope", "A load sweep's profiles ordered by offered load: where every bound still held, what broke first after it, and where throughput stopped keeping pace."), section(null, form), result);
    const { clear: clearErrors, mark: markField } = fieldMarks(form);
    try {
      const presets = await loadPresets();
      if (!ctx.isCurrent()) return;
      for (const p of presets) preset.append(h("option", { value: p.name, selected: p.name === params.get("preset") }, `${p.title} (${p.name})`));
    } catch (err) {
      if (ctx.isCurrent()) result.replaceChildren(errorBox(err, "Could not load the presets"));
    }

    const run = async () => {
      clearErrors();
      const values = Object.fromEntries(new FormData(form).entries());
      const value = (name) => String(values[name] || "").trim();
      const query = { cluster: value("cluster"), namespace: value("namespace"), label: value("label"), ids: value("ids"), preset: value("preset") };
      const body = {};
      if (query.ids) body.profile_ids = query.ids.split(",").map((id) => id.trim()).filter(Boolean);
      else {
        if (!query.cluster) {
          markField("cluster", "A cluster (with a label), or profile ids below.");
          return;
        }
        body.cluster_id = query.cluster;
        if (query.namespace) body.namespace = query.namespace;
        if (query.label) body.label = query.label;
      }
      if (query.preset) body.preset = query.preset;
      window.history.replaceState(null, "", uiHref(window.location.pathname, query));
      submit.disabled = true;
      purgeCharts();
      result.replaceChildren(loading("Ordering the profiles by offered load…"));
      try {
        const envelope = await api("POST", "/profiles/envelope", { body });
        if (ctx.isCurrent()) result.replaceChildren(envelopeResult(envelope, ctx));
      } catch (err) {
        if (ctx.isCurrent()) result.replaceChildren(errorBox(err, "No envelope"));
      } finally {
        submit.disabled = false;
      }
    };
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      run();
    });
    if (params.get("ids") || (params.get("cluster") && params.get("label"))) await run();
  }

  // --- routing ----------------------------------------------------------------------------------

  const ROUTES = [
    [/^\/ui\/?$/, "list", renderList],
    [/^\/ui\/create\/?$/, "create", renderCreate],
    [/^\/ui\/profiles\/([^/]+)\/conformance\/?$/, "conformance", renderConformance],
    [/^\/ui\/profiles\/([^/]+)\/?$/, "profile", renderProfile],
    [/^\/ui\/compare\/?$/, "compare", renderCompare],
    [/^\/ui\/drift\/?$/, "drift", renderDrift],
    [/^\/ui\/envelope\/?$/, "envelope", renderEnvelope],
  ];

  async function route() {
    const seq = ++renderSeq;
    const ctx = { isCurrent: () => seq === renderSeq };
    purgeCharts();
    main.replaceChildren();
    delete main.dataset.chartsDrawn;
    const path = window.location.pathname;
    const params = new URLSearchParams(window.location.search);
    const match = ROUTES.map(([re, name, render]) => [re.exec(path), name, render]).find(([m]) => m);
    for (const link of document.querySelectorAll(".nav a[data-page]")) {
      link.classList.toggle("active", Boolean(match) && link.dataset.page === match[1]);
    }
    main.dataset.page = match ? match[1] : "not-found";
    if (flash) {
      main.append(h("div", { class: `flash ${flash.kind || "ok"}`, role: "status" }, flash.text));
      flash = null;
    }
    if (!match) {
      document.title = "Not found · Behaviour Profiles";
      main.append(section("No such page", h("p", {}, `${path} is not a page of this UI. `, h("a", { href: "/ui/" }, "Back to the profiles"))));
      return;
    }
    const [m, , render] = match;
    try {
      await render(ctx, params, ...m.slice(1).map(decodeURIComponent));
    } catch (err) {
      if (ctx.isCurrent()) main.append(errorBox(err));
    }
  }

  function navigate(href, replace = false) {
    if (replace) window.history.replaceState(null, "", href);
    else window.history.pushState(null, "", href);
    window.scrollTo(0, 0);
    return route();
  }

  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[href]");
    if (!link || event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey || link.target || link.hasAttribute("download")) return;
    const url = new URL(link.href, window.location.href);
    if (url.origin !== window.location.origin || !url.pathname.startsWith("/ui/")) return;
    event.preventDefault();
    navigate(url.pathname + url.search);
  });
  window.addEventListener("popstate", () => route());

  function setTitle(text) {
    document.title = `${text} · Behaviour Profiles`;
  }

  function pageHeader(title, subtitle, ...extra) {
    return h("div", { class: "page-header" }, h("h1", {}, title), subtitle ? h("p", { class: "subtitle" }, subtitle) : null, extra);
  }

  function uiHref(path, query) {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query || {})) {
      if (value !== null && value !== undefined && value !== "" && value !== false) params.set(key, value === true ? "1" : value);
    }
    const text = params.toString();
    return text ? `${path}?${text}` : path;
  }

  // --- shared actions -----------------------------------------------------------------------------

  async function designateBaseline(profile, button) {
    button.disabled = true;
    const label = button.textContent;
    button.textContent = "Designating…";
    try {
      await api("POST", `/profiles/${encodeURIComponent(profile.id)}/baseline`);
      flash = { text: `"${profile.name}" is now the baseline of ${profile.cluster_id} / ${profile.namespace || "no namespace"}.` };
      await navigate(window.location.pathname + window.location.search, true);
    } catch (err) {
      button.disabled = false;
      button.textContent = label;
      button.closest("main").prepend(errorBox(err, "Could not designate the baseline"));
    }
  }

  // A profile left out of rolling baselines; the reason is its title (POST/DELETE /profiles/{id}/exclusion).
  function excludedMark(profile) {
    return badge("excluded from baselines", "excluded", profile.exclusion_reason || "");
  }

  function baselineMark() {
    return badge("★ baseline", "baseline", "The active baseline of its cluster and namespace");
  }

  async function loadPresets() {
    return api("GET", "/presets");
  }

  // --- list page ---------------------------------------------------------------------------------

  const FILTERS = [
    ["cluster", "Cluster", "temporal-prod"],
    ["namespace", "Namespace", "default"],
    ["label", "Label", "baseline-150wps"],
    ["task_queue", "Task queue", "main-queue"],
  ];

  async function renderList(ctx, params) {
    setTitle("Profiles");
    const picked = { a: null, b: null };
    const compareButton = h("button", { type: "button", disabled: true, id: "compare-selected" }, "Compare A → B");
    const pickHint = h("span", { class: "muted" }, "Pick A (before) and B (after) in the table.");
    const updatePicked = () => {
      compareButton.disabled = !(picked.a && picked.b && picked.a !== picked.b);
      pickHint.textContent =
        picked.a && picked.a === picked.b ? "A and B must be different profiles." : "Pick A (before) and B (after) in the table.";
    };
    compareButton.addEventListener("click", () => navigate(uiHref("/ui/compare", { a: picked.a, b: picked.b })));

    const filterForm = h(
      "form",
      { class: "filters", id: "filters" },
      FILTERS.map(([name, label, placeholder]) =>
        h("label", {}, label, h("input", { name, value: params.get(name) || "", placeholder, maxlength: 200 })),
      ),
      h("label", {}, "Window from (UTC)", h("input", { name: "start", type: "datetime-local", value: params.get("start") || "" })),
      h("label", {}, "Window to (UTC)", h("input", { name: "end", type: "datetime-local", value: params.get("end") || "" })),
      h("div", { class: "filter-actions" }, h("button", { type: "submit" }, "Apply filters"), h("a", { href: "/ui/", class: "button secondary" }, "Clear")),
    );
    filterForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const data = new FormData(filterForm);
      const query = {};
      for (const [key, value] of data.entries()) query[key] = String(value).trim();
      navigate(uiHref("/ui/", query));
    });

    const body = h("tbody", {});
    const status = h("div", {}, loading("Loading profiles…"));
    const more = h("div", { class: "more" });
    main.append(
      pageHeader("Behaviour profiles", "Newest first. ★ marks the active baseline of each cluster and namespace.", h("a", { href: "/ui/create", class: "button" }, "+ New profile")),
      section(null, filterForm),
      h(
        "section",
        { class: "card" },
        h("div", { class: "toolbar" }, compareButton, pickHint),
        h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { class: "profiles", id: "profiles-table" },
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                ["A", "B", "Name", "Cluster / namespace / task queue", "Window", "Coverage", "Versions", "Created", "Baseline"].map((t) =>
                  h("th", { scope: "col" }, t),
                ),
              ),
            ),
            body,
          ),
        ),
        status,
        more,
      ),
    );

    const query = {};
    for (const [name] of FILTERS) query[name] = params.get(name);
    for (const name of ["start", "end"]) {
      const value = params.get(name);
      if (value) query[name] = localInputToIso(value);
    }
    let rowsShown = 0;
    const loadPage = async (cursor) => {
      const { data, headers } = await apiRequest("GET", "/profiles", { query: { ...query, limit: 50, cursor } });
      if (!ctx.isCurrent()) return;
      status.replaceChildren();
      for (const profile of data) body.append(profileRow(profile, picked, updatePicked));
      rowsShown += data.length;
      if (rowsShown === 0) {
        const filtered = Object.values(query).some(Boolean);
        status.append(
          h(
            "p",
            { class: "empty" },
            filtered ? "No profile matches these filters. " : "No profiles yet. ",
            h("a", { href: "/ui/create" }, "Create one from a time range"),
            ".",
          ),
        );
      }
      const next = headers.get("X-Next-Cursor");
      more.replaceChildren();
      if (next) {
        const button = h("button", { type: "button", class: "secondary" }, "Load more");
        button.addEventListener("click", async () => {
          button.disabled = true;
          button.textContent = "Loading…";
          try {
            await loadPage(next);
          } catch (err) {
            more.replaceChildren(errorBox(err, "Could not load more profiles"));
          }
        });
        more.append(button);
      }
    };
    try {
      await loadPage(null);
    } catch (err) {
      if (ctx.isCurrent()) status.replaceChildren(errorBox(err, "Could not list the profiles"));
    }
  }

  function profileRow(profile, picked, onPick) {
    const radio = (side) => {
      const input = h("input", { type: "radio", name: `pick-${side}`, value: profile.id, "aria-label": `${side.toUpperCase()}: ${profile.name}` });
      input.addEventListener("change", () => {
        picked[side] = profile.id;
        onPick();
      });
      return h("td", { class: "pick" }, input);
    };
    const baselineCell = profile.is_baseline
      ? [baselineMark(), " ", h("a", { href: driftHref(profile), class: "check-drift nowrap", title: `Judge a recent window of ${profile.cluster_id} / ${profile.namespace || "no namespace"} against this baseline` }, "Check drift")]
      : h("button", {
          type: "button",
          class: "small secondary",
          title: `Make this the baseline of ${profile.cluster_id} / ${profile.namespace || "no namespace"} (replaces the current one)`,
          onclick: (event) => designateBaseline(profile, event.currentTarget),
        }, "Make baseline");
    const versions = [profile.temporal_server_version && `server ${profile.temporal_server_version}`, profile.dsql_plugin_version && `plugin ${profile.dsql_plugin_version}`, profile.worker_code_sha && `worker ${String(profile.worker_code_sha).slice(0, 10)}`].filter(Boolean);
    const coverageRatio = profile.coverage_asked ? profile.coverage_with_data / profile.coverage_asked : 0;
    return h(
      "tr",
      { class: profile.is_baseline ? "is-baseline" : "", dataset: { id: profile.id } },
      radio("a"),
      radio("b"),
      h(
        "td",
        {},
        h("a", { href: `/ui/profiles/${encodeURIComponent(profile.id)}`, class: "profile-name" }, profile.name),
        profile.label ? [" ", badge(profile.label, "label")] : null,
        profile.excluded_from_baselines ? [" ", excludedMark(profile)] : null,
        h("div", { class: "muted mono" }, shortId(profile.id)),
      ),
      h("td", {}, scope(profile)),
      h("td", { class: "nowrap" }, fmtWindow(profile.time_window_start, profile.time_window_end)),
      h("td", { class: coverageRatio < 0.5 ? "warn-text" : "", title: "catalogue metrics with data / asked" }, `${profile.coverage_with_data} / ${profile.coverage_asked}`),
      h("td", {}, versions.length ? versions.join(", ") : h("span", { class: "muted" }, "unknown")),
      h("td", { class: "nowrap" }, fmtTime(profile.created_at)),
      h("td", {}, baselineCell),
    );
  }

  // --- create page -------------------------------------------------------------------------------

  const QUICK_RANGES = [
    ["Last 15 min", 15],
    ["Last hour", 60],
    ["Last 3 hours", 180],
    ["Last 6 hours", 360],
    ["Last 12 hours", 720],
    ["Last 24 hours", 1440],
  ];

  // datetime-local values are read as UTC here: "2026-02-18T10:00" -> "2026-02-18T10:00:00Z".
  function localInputToIso(value) {
    if (!value) return "";
    return value.length === 16 ? `${value}:00Z` : `${value}Z`;
  }

  function isoToLocalInput(date) {
    return date.toISOString().slice(0, 16);
  }

  function field(name, label, input, hint) {
    return h(
      "div",
      { class: "field", dataset: { field: name } },
      h("label", { for: `f-${name}` }, label),
      input,
      hint ? h("div", { class: "hint" }, hint) : null,
      h("div", { class: "field-error", id: `err-${name}` }),
    );
  }

  // Messages under the fields of a form built with field(); mark() says whether the field exists.
  function fieldMarks(form) {
    const clear = () => {
      for (const el of form.querySelectorAll(".field-error")) el.textContent = "";
      for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
    };
    const mark = (name, message) => {
      const slot = form.querySelector(`#err-${CSS.escape(name)}`);
      const control = form.querySelector(`#f-${CSS.escape(name)}`);
      if (control) control.setAttribute("aria-invalid", "true");
      if (slot) {
        slot.textContent = message;
        return true;
      }
      return false;
    };
    return { clear, mark };
  }

  // A time window: quick ranges (minutes before now) and a custom UTC start and end, with a line that
  // says what the window is. activeMinutes() is the chosen quick range, or null for a custom window.
  function windowPicker(ranges, params) {
    const input = (name) => h("input", { id: `f-${name}`, name, type: "datetime-local", step: 60, required: true });
    const start = input("time_window_start");
    const end = input("time_window_end");
    const info = h("div", { class: "window-info", id: "window-info" });
    const quick = h("div", { class: "quick-ranges", role: "group", "aria-label": "Quick ranges" });
    let active = null;
    const update = () => {
      info.classList.remove("warn-text");
      if (!start.value || !end.value) {
        info.textContent = "Pick a quick range or enter a custom start and end (UTC).";
        return;
      }
      const a = new Date(localInputToIso(start.value));
      const b = new Date(localInputToIso(end.value));
      if (b <= a) {
        info.textContent = "The end must be after the start.";
        info.classList.add("warn-text");
      } else if (b - a > MAX_WINDOW_MS) {
        info.textContent = `The window is ${formatSpan((b - a) / 1000)}: a window covers at most ${formatSpan(CONSTANTS.max_window_seconds)}.`;
        info.classList.add("warn-text");
      } else {
        info.textContent = `Window: ${fmtWindow(a.toISOString(), b.toISOString())}`;
      }
    };
    const choose = (minutes) => {
      const now = new Date();
      now.setUTCSeconds(0, 0);
      end.value = isoToLocalInput(now);
      start.value = isoToLocalInput(new Date(now.getTime() - minutes * 60000));
      active = minutes;
      for (const button of quick.children) button.classList.toggle("active", Number(button.dataset.minutes) === minutes);
      update();
    };
    for (const [text, minutes] of ranges) {
      const button = h("button", { type: "button", class: "small secondary", dataset: { minutes } }, text);
      button.addEventListener("click", () => choose(minutes));
      quick.append(button);
    }
    for (const el of [start, end]) {
      el.addEventListener("input", () => {
        active = null;
        for (const button of quick.children) button.classList.remove("active");
        update();
      });
    }
    if (params.get("start")) start.value = params.get("start");
    if (params.get("end")) end.value = params.get("end");
    update();
    return { start, end, info, quick, choose, activeMinutes: () => active };
  }

  async function renderCreate(ctx, params) {
    setTitle("Create a profile");
    const input = (name, attrs) => h("input", { id: `f-${name}`, name, ...attrs });
    const { start, end, info: windowInfo, quick } = windowPicker(QUICK_RANGES, params);
    const presetSelect = h("select", { id: "f-preset", name: "preset" }, h("option", { value: "" }, "(none)"));

    const text = (name, placeholder, required) => input(name, { type: "text", placeholder, required, maxlength: 200, value: params.get(name) || "" });
    const textarea = (name, placeholder) => h("textarea", { id: `f-${name}`, name, rows: 4, placeholder, spellcheck: "false" });
    const submit = h("button", { type: "submit", id: "create-submit" }, "Create profile");
    const result = h("div", { id: "create-result" });
    const form = h(
      "form",
      { class: "create-form", id: "create-form", novalidate: true },
      h(
        "fieldset",
        {},
        h("legend", {}, "What to profile"),
        h(
          "div",
          { class: "grid-2" },
          field("name", "Name", text("name", "pre-scale-test", true), "Free text, e.g. what was running."),
          field("label", "Label", text("label", "healthy @ 150 WPS"), "Optional tag to filter by."),
          field("cluster_id", "Cluster", text("cluster_id", "temporal-prod", true)),
          field("namespace", "Namespace", text("namespace", "default"), "Empty: every namespace."),
          field("task_queue", "Task queue", text("task_queue", "main-queue"), "Empty: every task queue."),
          field("preset", "Scale preset", presetSelect, "The preset this deployment should match (optional)."),
        ),
      ),
      h(
        "fieldset",
        {},
        h("legend", {}, `Time range (UTC, at most ${formatSpan(CONSTANTS.max_window_seconds)})`),
        h("div", { class: "quick-label" }, "Quick ranges"),
        quick,
        h("div", { class: "grid-2" }, field("time_window_start", "Start (UTC)", start), field("time_window_end", "End (UTC)", end)),
        windowInfo,
      ),
      h(
        "details",
        { class: "advanced" },
        h("summary", {}, "Versions and configuration (optional)"),
        h(
          "div",
          { class: "grid-3" },
          field("temporal_server_version", "Temporal server version", text("temporal_server_version", "read from build_information")),
          field("dsql_plugin_version", "DSQL plugin version", text("dsql_plugin_version", "")),
          field("worker_code_sha", "Worker code SHA", text("worker_code_sha", "")),
        ),
        field("config.environment", "Server environment (KEY=VALUE lines)", textarea("config.environment", "TEMPORAL_SQL_MAX_CONNS=100\nDSQL_RESERVOIR_ENABLED=true"), "Secrets are redacted before storage; only a keyed fingerprint is kept."),
        field("config.dynamic_config", "Dynamic config (YAML)", textarea("config.dynamic_config", "history.persistenceMaxQPS:\n  - value: 3000")),
        field("config.worker_options", "Worker options (JSON object)", textarea("config.worker_options", '{"MaxConcurrentActivityExecutionSize": 200}')),
        h("p", { class: "hint" }, "A part left empty is read from the host's MONITORED_* files when the API has them, and is otherwise \"not collected\"."),
      ),
      h("div", { class: "form-actions" }, submit, h("a", { href: "/ui/", class: "button secondary" }, "Cancel")),
      result,
    );
    main.append(pageHeader("Create a profile", "Snapshot a time window: telemetry from Prometheus, the configuration and versions."), section(null, form));

    loadPresets()
      .then((presets) => {
        for (const preset of presets) presetSelect.append(h("option", { value: preset.name }, `${preset.title} (${preset.name})`));
        if (params.get("preset")) presetSelect.value = params.get("preset");
      })
      .catch((err) => presetSelect.after(h("div", { class: "field-error" }, `Presets unavailable: ${err.message}`)));

    // A problem shown for the last attempt is stale once the form changes.
    form.addEventListener("input", () => {
      if (!submit.disabled) result.replaceChildren();
    });
    const { clear: clearErrors, mark: markField } = fieldMarks(form);

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors();
      result.replaceChildren();
      const values = Object.fromEntries(new FormData(form).entries());
      const body = { name: values.name.trim(), cluster_id: values.cluster_id.trim() };
      for (const key of ["namespace", "task_queue", "label", "preset", "temporal_server_version", "dsql_plugin_version", "worker_code_sha"]) {
        const value = String(values[key] || "").trim();
        if (value) body[key] = value;
      }
      let problems = 0;
      for (const key of ["name", "cluster_id"]) {
        if (!body[key]) problems += markField(key, "Required.") ? 1 : 0;
      }
      if (!start.value || !end.value) {
        problems += markField(start.value ? "time_window_end" : "time_window_start", "Pick a quick range or enter the start and end.") ? 1 : 0;
      } else {
        body.time_window_start = localInputToIso(start.value);
        body.time_window_end = localInputToIso(end.value);
      }
      const config = {};
      // the text as typed: the API reads it with its env-file parser (export, quotes, comments)
      if (values["config.environment"].trim()) config.environment = values["config.environment"];
      if (values["config.dynamic_config"].trim()) config.dynamic_config = values["config.dynamic_config"];
      try {
        if (values["config.worker_options"].trim()) {
          const parsed = JSON.parse(values["config.worker_options"]);
          if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("must be a JSON object");
          config.worker_options = parsed;
        }
      } catch (err) {
        problems += markField("config.worker_options", `Not a JSON object: ${err.message}`) ? 1 : 0;
      }
      if (Object.keys(config).length) body.config = config;
      if (problems) {
        result.append(h("div", { class: "error", role: "alert" }, h("strong", {}, "Fix the marked fields first.")));
        return;
      }
      submit.disabled = true;
      submit.textContent = "Creating…";
      result.append(loading("Collecting telemetry for the window from Prometheus and storing the profile; this takes a few seconds…"));
      let countdown = null;
      // A 429 (creations are rate limited) is waited out once, with the wait shown, then sent again.
      const onRateLimited = (seconds) => {
        if (!ctx.isCurrent()) return;
        let left = seconds;
        const text = h("span", {});
        const show = () => {
          text.textContent = left > 0
            ? `Rate limited: the API takes only so many new profiles a minute. Retrying in ${left} s…`
            : "Rate limited: retrying now…";
        };
        show();
        result.replaceChildren(h("div", { class: "loading", role: "status", id: "rate-limit-wait" }, h("span", { class: "spinner", "aria-hidden": "true" }), text));
        countdown = setInterval(() => {
          left = Math.max(0, left - 1);
          show();
          if (left === 0) clearInterval(countdown);
        }, 1000);
      };
      try {
        const meta = await api("POST", "/profiles", { body, onRateLimited });
        clearInterval(countdown);
        if (!ctx.isCurrent()) return;
        const noted = meta.notes && meta.notes.length ? ` ${meta.notes.length === 1 ? "One note" : `${meta.notes.length} notes`} below.` : "";
        flash = { text: `Profile "${meta.name}" created: ${meta.coverage_with_data} of ${meta.coverage_asked} metrics have data.${noted}` };
        await navigate(`/ui/profiles/${encodeURIComponent(meta.id)}`);
      } catch (err) {
        clearInterval(countdown);
        if (!ctx.isCurrent()) return;
        submit.disabled = false;
        submit.textContent = "Create profile";
        result.replaceChildren(errorBox(err, "The profile was not created"));
        for (const item of err.errors || []) {
          const name = String(item.field || "").replace(/\.\d+$/, "");
          markField(name, item.message) || markField(name.split(".")[0], item.message);
        }
      }
    });
  }

  // --- profile page -------------------------------------------------------------------------------

  async function renderProfile(ctx, params, id) {
    setTitle("Profile");
    const status = h("div", {}, loading("Loading the profile…"));
    main.append(status);
    let profile;
    try {
      profile = await api("GET", `/profiles/${encodeURIComponent(id)}`);
    } catch (err) {
      if (ctx.isCurrent()) status.replaceChildren(errorBox(err, "Could not load the profile"), h("p", {}, h("a", { href: "/ui/" }, "← Back to the profiles")));
      return;
    }
    if (!ctx.isCurrent()) return;
    status.remove();
    setTitle(profile.name);

    const telemetry = profile.telemetry || { metrics: {}, coverage: { with_data: 0, asked: 0 } };
    const actions = h("div", { class: "actions" });
    if (!profile.is_baseline) {
      actions.append(
        h("button", { type: "button", id: "make-baseline", onclick: (event) => designateBaseline(profile, event.currentTarget) }, "Make baseline"),
      );
    }
    const baselineInfo = h("span", { class: "muted", id: "baseline-info" }, "Looking up the baseline…");
    actions.append(baselineInfo);
    const download = h("button", { type: "button", class: "secondary" }, "Download JSON");
    download.addEventListener("click", () => {
      const blob = new Blob([JSON.stringify(profile, null, 2)], { type: "application/json" });
      const link = h("a", { href: URL.createObjectURL(blob), download: `profile-${profile.id}.json` });
      link.click();
      setTimeout(() => URL.revokeObjectURL(link.href), 1000);
    });
    actions.append(download);

    const compareSelect = h("select", { id: "compare-with", "aria-label": "Compare with" }, h("option", { value: "" }, "Loading profiles…"));
    const compareForm = h(
      "form",
      { class: "inline-form" },
      h("label", { for: "compare-with" }, "Compare (this as B) with A ="),
      compareSelect,
      h("button", { type: "submit", class: "secondary" }, "Compare"),
    );
    compareForm.addEventListener("submit", (event) => {
      event.preventDefault();
      if (compareSelect.value) navigate(uiHref("/ui/compare", { a: compareSelect.value, b: profile.id }));
    });
    const presetSelect = h("select", { id: "conformance-preset", "aria-label": "Preset" });
    const conformanceForm = h(
      "form",
      { class: "inline-form" },
      h("label", { for: "conformance-preset" }, "Check conformance against"),
      presetSelect,
      h("button", { type: "submit", class: "secondary" }, "Check"),
    );
    conformanceForm.addEventListener("submit", (event) => {
      event.preventDefault();
      navigate(uiHref(`/ui/profiles/${encodeURIComponent(profile.id)}/conformance`, { preset: presetSelect.value }));
    });

    const coverage = telemetry.coverage || { with_data: profile.coverage_with_data, asked: profile.coverage_asked };
    main.append(
      pageHeader(
        profile.name,
        null,
        h(
          "div",
          { class: "badges" },
          profile.is_baseline ? baselineMark() : null,
          profile.excluded_from_baselines ? excludedMark(profile) : null,
          profile.label ? badge(profile.label, "label") : null,
          profile.preset ? badge(`preset: ${profile.preset}`, "preset") : null,
        ),
      ),
      section(
        null,
        h(
          "dl",
          { class: "facts" },
          fact("Cluster / namespace / task queue", scope(profile)),
          fact("Window", fmtWindow(profile.time_window_start, profile.time_window_end)),
          fact("Coverage", `${coverage.with_data} of ${coverage.asked} metrics have data`),
          fact("Metric dialect", `${telemetry.dialect || "?"}, ${telemetry.step_seconds || "?"} s step`),
          fact("Created", fmtTime(profile.created_at)),
          fact("Id", h("code", {}, profile.id)),
        ),
        actions,
        h("div", { class: "forms-row" }, compareForm, conformanceForm),
      ),
      telemetry.notes && telemetry.notes.length
        ? section("Notes", h("ul", { class: "notes", id: "profile-notes" }, telemetry.notes.map((note) => h("li", {}, note))))
        : null,
      section("Versions", versionsTable(profile.versions || {})),
      section("Configuration snapshot", configSnapshot(profile.config || {})),
    );
    const jobs = metricsSections(telemetry.metrics || {});

    // Secondary look-ups: the active baseline, other profiles to compare with, presets.
    api("GET", "/profiles/baseline", { query: { cluster: profile.cluster_id, namespace: profile.namespace } })
      .then((baseline) => {
        if (!ctx.isCurrent()) return;
        if (baseline.id === profile.id) baselineInfo.textContent = `This is the baseline of ${profile.cluster_id} / ${profile.namespace || "no namespace"}.`;
        else
          baselineInfo.replaceChildren(
            h("a", { href: uiHref("/ui/compare", { a: baseline.id, b: profile.id }), class: "button", id: "compare-baseline" }, "Compare with the baseline"),
            ` (${baseline.name})`,
          );
      })
      .catch((err) => {
        if (!ctx.isCurrent()) return;
        baselineInfo.textContent = err.status === 404 ? `No baseline for ${profile.cluster_id} / ${profile.namespace || "no namespace"} yet.` : `Baseline unknown: ${err.message}`;
      });
    api("GET", "/profiles", { query: { cluster: profile.cluster_id, limit: 100 } })
      .then((others) => {
        if (!ctx.isCurrent()) return;
        compareSelect.replaceChildren(h("option", { value: "" }, "choose a profile…"));
        for (const other of others.filter((p) => p.id !== profile.id)) {
          compareSelect.append(h("option", { value: other.id }, `${other.is_baseline ? "★ " : ""}${other.name} · ${other.namespace || "*"} · ${fmtTime(other.time_window_start)}`));
        }
      })
      .catch(() => compareSelect.replaceChildren(h("option", { value: "" }, "profiles unavailable")));
    loadPresets()
      .then((presets) => {
        for (const preset of presets) presetSelect.append(h("option", { value: preset.name }, preset.title));
        presetSelect.value = profile.preset || (presets[1] || presets[0]).name;
      })
      .catch(() => presetSelect.append(h("option", { value: profile.preset || "" }, profile.preset || "presets unavailable")));

    await drawAll(jobs, ctx.isCurrent);
  }

  function fact(label, value) {
    return h("div", { class: "fact" }, h("dt", {}, label), h("dd", {}, value));
  }

  function versionsTable(versions) {
    const rows = [
      ["Temporal server", versions.temporal_server_version],
      ["Temporal server git revision", versions.temporal_server_git_revision],
      ["DSQL plugin", versions.dsql_plugin_version],
      ["Worker code SHA", versions.worker_code_sha],
    ].map(([name, value]) => h("tr", {}, h("th", { scope: "row" }, name), h("td", {}, value ? h("code", {}, value) : h("span", { class: "muted" }, "not known"))));
    return h("table", { class: "kv" }, h("tbody", {}, rows));
  }

  function configSnapshot(config) {
    const sources = config.sources || {};
    return h(
      "div",
      { class: "config-parts" },
      CONFIG_PARTS.map(([part, title]) => {
        const value = config[part];
        let content;
        if (value === null || value === undefined) content = h("p", { class: "muted" }, "not collected");
        else if (typeof value === "object" && Object.keys(value).length === 0) content = h("p", { class: "muted" }, "collected, empty");
        else
          content = h(
            "table",
            { class: "kv config" },
            h("tbody", {}, Object.entries(value).map(([key, v]) => h("tr", {}, h("th", { scope: "row" }, h("code", {}, key)), h("td", {}, valueNode(v))))),
          );
        return h(
          "div",
          { class: "config-part", dataset: { part } },
          h("h3", {}, title, sources[part] ? badge(`from ${sources[part]}`, "source") : null),
          content,
        );
      }),
    );
  }

  function statsLine(metric) {
    const unit = metric.unit;
    return h(
      "dl",
      { class: "stats" },
      [
        ["mean", metric.mean],
        ["p50", metric.p50],
        ["p95", metric.p95],
        ["p99", metric.p99],
        ["min", metric.min],
        ["max", metric.max],
      ].map(([name, value]) => h("div", {}, h("dt", {}, name), h("dd", {}, formatValue(value, unit)))),
    );
  }

  function metricsSections(metrics) {
    const jobs = [];
    const byCategory = new Map();
    for (const [key, metric] of Object.entries(metrics)) {
      const category = (CATALOGUE[key] && CATALOGUE[key].category) || "other";
      if (!byCategory.has(category)) byCategory.set(category, []);
      byCategory.get(category).push([key, metric]);
    }
    const order = [...CONSTANTS.categories, "other"];
    for (const category of order.filter((c) => byCategory.has(c))) {
      const cards = byCategory.get(category).map(([key, metric]) => {
        const entry = CATALOGUE[key] || {};
        const chart = h("div", { class: "chart", "aria-label": `Series of ${metricTitle(key)}` });
        const hasSeries = metric.status === "ok" && Array.isArray(metric.series) && metric.series.length > 0;
        if (hasSeries) jobs.push({ el: chart, draw: () => drawSeries(chart, metric) });
        return h(
          "article",
          { class: `metric-card ${metric.status === "ok" ? "" : "no-data"}`, dataset: { metric: key } },
          h(
            "header",
            {},
            h("h3", { title: entry.description || "" }, metricTitle(key)),
            h("code", { class: "muted" }, key),
            h("span", { class: "unit", title: "unit" }, unitName(metric.unit)),
            metric.status === "ok" ? null : badge("no data", "no_data"),
          ),
          metric.status === "ok" ? statsLine(metric) : null,
          hasSeries ? chart : null,
          metric.status === "ok" ? h("p", { class: "reason" }, `${formatNumber(metric.sample_count || 0)} samples`, metric.reason ? `; ${metric.reason}` : "") : null,
          metric.status !== "ok" && metric.reason ? h("p", { class: "reason" }, metric.reason) : null,
        );
      });
      main.append(section(`${CATEGORY_TITLES[category] || "Other"} metrics`, h("div", { class: "metric-grid" }, cards)));
    }
    if (order.every((c) => !byCategory.has(c))) main.append(section("Telemetry", h("p", { class: "muted" }, "This profile has no metrics.")));
    return jobs;
  }

  // --- compare page -------------------------------------------------------------------------------

  async function renderCompare(ctx, params) {
    setTitle("Compare");
    const a = params.get("a");
    const b = params.get("b");
    if (!a || !b) {
      main.append(pageHeader("Compare two profiles", "Pick A (before) and B (after) on the profiles page."), section(null, h("p", {}, h("a", { href: "/ui/", class: "button" }, "Choose profiles"))));
      return;
    }
    const statistic = STATISTICS.includes(params.get("statistic")) ? params.get("statistic") : CONSTANTS.default_statistic;
    const includeAll = params.get("all") === "1";
    const status = h("div", {}, loading("Comparing the profiles…"));
    main.append(status);
    let comparison;
    let profileA;
    let profileB;
    try {
      [comparison, profileA, profileB] = await Promise.all([
        api("POST", "/profiles/compare", { body: { profile_a_id: a, profile_b_id: b, statistic, include_all: includeAll } }),
        api("GET", `/profiles/${encodeURIComponent(a)}`),
        api("GET", `/profiles/${encodeURIComponent(b)}`),
      ]);
    } catch (err) {
      if (ctx.isCurrent()) status.replaceChildren(errorBox(err, "Could not compare the profiles"), h("p", {}, h("a", { href: "/ui/" }, "← Back to the profiles")));
      return;
    }
    if (!ctx.isCurrent()) return;
    status.remove();
    setTitle(`Compare ${profileA.name} → ${profileB.name}`);

    const diffs = [...comparison.telemetry_diffs].sort((x, y) => (SEVERITY_RANK[x.severity] ?? 9) - (SEVERITY_RANK[y.severity] ?? 9));

    const options = h(
      "form",
      { class: "inline-form", id: "compare-options" },
      h("label", { for: "statistic" }, "Statistic"),
      h("select", { id: "statistic", name: "statistic" }, STATISTICS.map((s) => h("option", { value: s, selected: s === statistic }, s))),
      h("label", { class: "check" }, h("input", { type: "checkbox", name: "all", checked: includeAll }), "include metrics within their thresholds"),
      h("button", { type: "submit", class: "secondary" }, "Compare again"),
      h("a", { href: uiHref("/ui/compare", { a: b, b: a, statistic: statistic === CONSTANTS.default_statistic ? null : statistic, all: includeAll }) }, "Swap A and B"),
    );
    options.addEventListener("submit", (event) => {
      event.preventDefault();
      const data = new FormData(options);
      navigate(uiHref("/ui/compare", { a, b, statistic: data.get("statistic") === CONSTANTS.default_statistic ? null : data.get("statistic"), all: data.get("all") ? true : null }));
    });

    main.append(
      pageHeader("Comparison", null),
      h(
        "div",
        { class: "sides" },
        sideCard("A", profileA, "side-a"),
        h("div", { class: "arrow", "aria-hidden": "true" }, "→"),
        sideCard("B", profileB, "side-b"),
      ),
      h(
        "section",
        { class: `verdict verdict-${comparison.verdict}`, id: "verdict" },
        h("div", { class: "verdict-word" }, comparison.verdict.toUpperCase()),
        h(
          "div",
          {},
          h("p", { class: "summary" }, comparison.summary),
          h(
            "p",
            { class: "counts" },
            severityBadges(diffs),
            h("span", { class: "muted" }, ` · statistic ${comparison.statistic} · thresholds ${thresholdsText(comparison.thresholds_pct)}`),
          ),
          comparison.notes && comparison.notes.length ? h("ul", { class: "notes" }, comparison.notes.map((note) => h("li", {}, note))) : null,
        ),
      ),
      section(null, options),
      correlationsSection(comparison.correlations || []),
      section(
        `Telemetry differences (${diffs.length}), most severe first`,
        h("p", { class: "muted" }, `A and B compare each metric's ${comparison.statistic}; `, h("span", { class: "key-metric" }, "●"), " marks a key metric, whose missing data makes the verdict inconclusive."),
        diffsTable(diffs),
      ),
    );
    const jobs = overlaySection(diffs, profileA, profileB);
    main.append(
      section(`Configuration differences (${comparison.config_diffs.length})`, configDiffsTable(comparison.config_diffs)),
      section(`Version differences (${comparison.version_diffs.length})`, versionDiffsTable(comparison.version_diffs)),
    );
    await drawAll(jobs, ctx.isCurrent);
  }

  function severityBadges(diffs) {
    const counts = { critical: 0, warning: 0, info: 0 };
    for (const diff of diffs) counts[diff.severity] = (counts[diff.severity] || 0) + 1;
    return [badge(`${counts.critical} critical`, "sev-critical"), " ", badge(`${counts.warning} warning`, "sev-warning"), " ", badge(`${counts.info} info`, "sev-info")];
  }

  function thresholdsText(thresholds) {
    return Object.entries(thresholds).map(([cls, pct]) => `${cls} ${formatThreshold(pct)}`).join(", ");
  }

  function sideCard(side, profile, cls) {
    return h(
      "section",
      { class: `card side ${cls}` },
      h("div", { class: "side-tag" }, side),
      h("div", {}, h("a", { href: `/ui/profiles/${encodeURIComponent(profile.id)}`, class: "profile-name" }, profile.name), profile.is_baseline ? [" ", baselineMark()] : null, profile.label ? [" ", badge(profile.label, "label")] : null),
      h("div", { class: "muted" }, scope(profile)),
      h("div", { class: "muted" }, fmtWindow(profile.time_window_start, profile.time_window_end)),
    );
  }

  const RELATION_TEXT = {
    expected: ["likely cause", "The change went the way known to cause this regression"],
    possible: ["possible cause", "The setting influences this metric; which way is not known for this change"],
    contrary: ["unlikely cause", "The change went the way known to improve this metric"],
  };

  // Correlations grouped by the configuration change they start from, most severe metric first.
  function correlationsSection(correlations) {
    const title = "Why: configuration changes connected to regressions";
    if (!correlations.length) {
      return section(title, h("p", { class: "muted" }, "No configuration change is known to influence the regressed metrics (or no configuration was collected for both)."));
    }
    const groups = new Map();
    for (const c of correlations) {
      const key = JSON.stringify([c.setting, c.old_value, c.new_value]);
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(c);
    }
    const items = [...groups.values()].map((group) => {
      const first = group[0];
      const rank = (c) => (SEVERITY_RANK[c.severity] ?? 9) * 10 + ({ expected: 0, possible: 1, contrary: 2 }[c.relation] ?? 9);
      const sorted = [...group].sort((x, y) => rank(x) - rank(y));
      const strongest = sorted[0].relation;
      const mechanisms = [...new Set(sorted.map((c) => c.mechanism).filter(Boolean))];
      return h(
        "li",
        { class: `correlation relation-${strongest}`, dataset: { setting: first.setting } },
        h(
          "div",
          { class: "correlation-head" },
          h("strong", {}, first.setting),
          ` ${first.change_direction}: `,
          valueNode(first.old_value),
          " → ",
          valueNode(first.new_value),
          h("span", { class: "muted" }, ` (${first.config_keys.join(", ")})`),
        ),
        h(
          "ul",
          { class: "correlated-metrics" },
          sorted.map((c) => {
            const [text, hint] = RELATION_TEXT[c.relation] || [c.relation, ""];
            const by = c.change_pct === null || c.change_pct === undefined ? "" : `by ${formatChange(c.change_pct)} `;
            return h(
              "li",
              {},
              badge(text, `relation-${c.relation}`, hint),
              " ",
              badge(c.severity, `sev-${c.severity}`),
              " ",
              h("strong", {}, metricTitle(c.metric, c.title)),
              ` regressed ${by}(${formatValue(c.old_metric_value, c.unit)} → ${formatValue(c.new_metric_value, c.unit)})`,
            );
          }),
        ),
        mechanisms.map((m) => h("div", { class: "mechanism" }, `Why: ${m}`)),
      );
    });
    return section(title, h("ul", { class: "correlations", id: "correlations" }, items));
  }

  // Telemetry diffs in the order given. The drift page names the sides Baseline and Current.
  function diffsTable(diffs, options = {}) {
    const { sides = ["A", "B"], id = "diffs-table", empty = "No metric moved beyond its threshold. Tick \"include metrics within their thresholds\" to see them all." } = options;
    if (!diffs.length) return h("p", { class: "muted" }, empty);
    const rows = diffs.map((d) => {
      const evidence = d.evidence
        ? h("span", { title: `Mann-Whitney U ${d.evidence.u_statistic}, effect size ${d.evidence.effect_size.toFixed(2)}, n ${d.evidence.n_old}/${d.evidence.n_new}` }, d.evidence.significant ? "significant" : "not significant", h("div", { class: "muted nowrap" }, pText(d.evidence)))
        : h("span", { class: "muted" }, "—");
      return h(
        "tr",
        { class: `sev-row sev-${d.severity}`, dataset: { metric: d.metric } },
        h("td", {}, badge(d.severity, `sev-${d.severity}`)),
        h("td", {}, h("div", {}, metricTitle(d.metric, d.title), d.key_metric ? h("span", { class: "key-metric", title: "key metric" }, " ●") : null), h("code", { class: "muted" }, d.metric)),
        h("td", {}, h("span", { class: `dir dir-${d.direction}` }, d.direction.replace("_", " "))),
        h("td", { class: "num" }, formatValue(d.old_value, d.unit)),
        h("td", { class: "num" }, formatValue(d.new_value, d.unit)),
        h("td", { class: `num dir-${d.direction}` }, d.change_text && d.change_text !== "unchanged" ? d.change_text : formatChange(d.change_pct), d.load_label ? h("div", { class: "muted nowrap" }, d.load_label) : null),
        h("td", { class: "num" }, `±${formatThreshold(d.threshold_pct)}`),
        h("td", {}, evidence),
        h("td", { class: "reason" }, d.reason),
      );
    });
    return table(["Severity", "Metric", "Direction", [sides[0], "num"], [sides[1], "num"], ["Change", "num"], ["Threshold", "num"], "Evidence", "Why"], rows, { class: "diffs", id });
  }

  function overlaySection(diffs, profileA, profileB) {
    const jobs = [];
    const metricsA = (profileA.telemetry && profileA.telemetry.metrics) || {};
    const metricsB = (profileB.telemetry && profileB.telemetry.metrics) || {};
    const startA = Date.parse(profileA.time_window_start) / 1000;
    const startB = Date.parse(profileB.time_window_start) / 1000;
    const cards = diffs.map((d) => {
      const seriesA = (metricsA[d.metric] && metricsA[d.metric].series) || [];
      const seriesB = (metricsB[d.metric] && metricsB[d.metric].series) || [];
      const chart = h("div", { class: "chart", "aria-label": `A and B series of ${metricTitle(d.metric, d.title)}` });
      if (seriesA.length || seriesB.length) jobs.push({ el: chart, draw: () => drawOverlay(chart, d.unit, seriesA, seriesB, startA, startB) });
      else chart.append(h("p", { class: "muted" }, "No samples in either window."));
      return h(
        "article",
        { class: `metric-card sev-card sev-${d.severity}`, dataset: { metric: d.metric } },
        h("header", {}, h("h3", {}, metricTitle(d.metric, d.title)), badge(d.severity, `sev-${d.severity}`), h("span", { class: `dir dir-${d.direction}` }, changeText(d))),
        h("div", { class: "muted" }, `${d.statistic}: A ${formatValue(d.old_value, d.unit)} → B ${formatValue(d.new_value, d.unit)}`),
        chart,
      );
    });
    if (cards.length) {
      main.append(
        section(
          "A and B series overlaid, most severe first",
          h("p", { class: "muted" }, "Each line starts at its own window's start, so the x axis is minutes into the window."),
          h("div", { class: "metric-grid", id: "overlay-grid" }, cards),
        ),
      );
    }
    return jobs;
  }

  function pText(e) {
    // the raw p-value, and beside it the one adjusted across the comparison's tests, which decides
    const raw = `p = ${formatP(e.p_value)}`;
    return e.p_adjusted !== null && e.p_adjusted !== undefined && e.tests > 1 ? `${raw}, adjusted ${formatP(e.p_adjusted)}` : raw;
  }

  function changeText(d) {
    const direction = d.direction.replace("_", " ");
    const label = d.load_label ? ` (${d.load_label})` : "";
    if (d.change_text && d.change_pct !== null && d.change_pct !== undefined) return `${direction} ${d.change_text}${label}`;
    if (d.change_pct !== null && d.change_pct !== undefined) return `${direction} ${formatChange(d.change_pct)}${label}`;
    return d.old_value === 0 && d.new_value ? `${direction} from zero` : direction;
  }

  function configDiffsTable(diffs) {
    if (!diffs.length) return h("p", { class: "muted" }, "No configuration difference among the parts collected for both.");
    return table(
      ["Key", "Change", "A", "B", "Class"],
      diffs.map((d) =>
        h("tr", {}, h("td", {}, h("code", {}, d.key)), h("td", {}, d.change), h("td", {}, valueNode(d.old_value)), h("td", {}, valueNode(d.new_value)), h("td", {}, d.classification || "")),
      ),
      { class: "config-diffs" },
    );
  }

  function versionDiffsTable(diffs) {
    if (!diffs.length) return h("p", { class: "muted" }, "Same versions (where known).");
    return table(
      ["Component", "A", "B"],
      diffs.map((d) => h("tr", {}, h("td", {}, d.component), h("td", {}, d.old_version || "not known"), h("td", {}, d.new_version || "not known"))),
    );
  }

  // --- drift page ---------------------------------------------------------------------------------

  const DRIFT_RANGES = [
    ["Last 15 min", 15],
    ["Last 30 min", 30],
    ["Last hour", 60],
    ["Last 3 hours", 180],
  ];
  const DRIFT_DEFAULT_MINUTES = CONSTANTS.drift_window_minutes; // what the API judges when the request gives no window
  const THRESHOLD_CLASSES = CONSTANTS.threshold_classes.map((cls) => [cls, cls.charAt(0).toUpperCase() + cls.slice(1)]);
  // status -> [word, verdict colour class]: drifted red, no drift green, inconclusive magenta (as the CLI).
  const DRIFT_STATUS = {
    drifted: ["DRIFTED", "fail"],
    no_drift: ["NO DRIFT", "pass"],
    inconclusive: ["INCONCLUSIVE", "inconclusive"],
  };
  // The API's field names (in a 422's errors) -> this form's fields.
  const DRIFT_FIELDS = {
    cluster_id: "cluster",
    ...Object.fromEntries(THRESHOLD_CLASSES.map(([cls]) => [`thresholds_pct.${cls}`, `${cls}_pct`])),
  };

  function driftHref(profile) {
    return uiHref("/ui/drift", { cluster: profile.cluster_id, namespace: profile.namespace });
  }

  async function renderDrift(ctx, params) {
    setTitle("Drift");
    const picker = windowPicker(DRIFT_RANGES, params);
    if (!(params.get("start") && params.get("end"))) {
      const range = Number(params.get("range"));
      picker.choose(DRIFT_RANGES.some(([, minutes]) => minutes === range) ? range : DRIFT_DEFAULT_MINUTES);
    }
    const text = (name, placeholder, required) => h("input", { id: `f-${name}`, name, type: "text", placeholder, required, maxlength: 200, value: params.get(name) || "" });
    const textarea = (name, placeholder) => h("textarea", { id: `f-${name}`, name, rows: 3, placeholder, spellcheck: "false" });
    const thresholds = THRESHOLD_CLASSES.map(([cls, label]) =>
      field(`${cls}_pct`, `${label} (%)`, h("input", { id: `f-${cls}_pct`, name: `${cls}_pct`, type: "number", min: 0, max: 10000, step: "any", placeholder: "default", value: params.get(`${cls}_pct`) || "" })),
    );
    const submit = h("button", { type: "submit", id: "drift-submit" }, "Check drift");
    const result = h("div", { id: "drift-result" });
    const form = h(
      "form",
      { class: "create-form", id: "drift-form", novalidate: true },
      h(
        "fieldset",
        {},
        h("legend", {}, "Which baseline"),
        h(
          "div",
          { class: "grid-3" },
          field("cluster", "Cluster", text("cluster", "temporal-prod", true)),
          field("namespace", "Namespace", text("namespace", "default"), "Empty: the baseline of profiles without a namespace."),
          field("task_queue", "Task queue", text("task_queue", "main-queue"), "Empty: the baseline's task queue."),
        ),
      ),
      h(
        "fieldset",
        {},
        h("legend", {}, `Window to judge (UTC, at most ${formatSpan(CONSTANTS.max_window_seconds)})`),
        h("div", { class: "quick-label" }, "Quick ranges, up to now by the API's clock"),
        picker.quick,
        h("div", { class: "grid-2" }, field("time_window_start", "Start (UTC)", picker.start), field("time_window_end", "End (UTC)", picker.end)),
        picker.info,
      ),
      h(
        "fieldset",
        {},
        h("legend", {}, "Thresholds (optional)"),
        h("div", { class: "grid-4" }, thresholds),
        h("p", { class: "hint" }, `A change beyond its class's percentage is a warning, beyond twice it critical. Empty: the deployment's default, else ${thresholdsText(CONSTANTS.default_thresholds_pct)}.`),
      ),
      h(
        "details",
        { class: "advanced" },
        h("summary", {}, "Current configuration (optional), to correlate with regressions"),
        field("config.environment", "Server environment (KEY=VALUE lines)", textarea("config.environment", "TEMPORAL_SQL_MAX_CONNS=100")),
        field("config.dynamic_config", "Dynamic config (YAML)", textarea("config.dynamic_config", "history.persistenceMaxQPS:\n  - value: 3000")),
        h("p", { class: "hint" }, "Compared with the baseline's configuration; secrets are redacted by the API. It is not kept in the page address. A part left empty is read from the host's MONITORED_* files when the API has them."),
      ),
      h("div", { class: "form-actions" }, submit),
    );
    main.append(
      pageHeader("Drift from the baseline", "A window of a cluster and namespace judged against its active baseline: the baseline is the old side, the window the new side."),
      section(null, form),
      result,
    );
    const { clear: clearErrors, mark: markField } = fieldMarks(form);

    const check = async () => {
      clearErrors();
      result.replaceChildren();
      const values = Object.fromEntries(new FormData(form).entries());
      const value = (name) => String(values[name] || "").trim();
      const query = { cluster: value("cluster"), namespace: value("namespace"), task_queue: value("task_queue") };
      const body = { cluster_id: query.cluster };
      if (query.namespace) body.namespace = query.namespace;
      if (query.task_queue) body.task_queue = query.task_queue;
      let problems = 0;
      if (!body.cluster_id) problems += markField("cluster", "Required.") ? 1 : 0;
      const minutes = picker.activeMinutes();
      if (minutes === null) {
        if (!picker.start.value || !picker.end.value) {
          problems += markField(picker.start.value ? "time_window_end" : "time_window_start", "Pick a quick range or enter the start and end.") ? 1 : 0;
        } else {
          body.time_window_start = localInputToIso(picker.start.value);
          body.time_window_end = localInputToIso(picker.end.value);
          query.start = picker.start.value;
          query.end = picker.end.value;
        }
      } else if (minutes !== DRIFT_DEFAULT_MINUTES) {
        // The end is left to the API (its clock's now), as for its default window.
        body.time_window_start = new Date(Date.now() - minutes * 60000).toISOString();
        query.range = minutes;
      }
      const thresholdsPct = {};
      for (const [cls] of THRESHOLD_CLASSES) {
        const raw = value(`${cls}_pct`);
        if (!raw) continue;
        const pct = Number(raw);
        if (!Number.isFinite(pct) || pct <= 0) problems += markField(`${cls}_pct`, "A percentage above 0.") ? 1 : 0;
        else {
          thresholdsPct[cls] = pct;
          query[`${cls}_pct`] = raw;
        }
      }
      if (Object.keys(thresholdsPct).length) body.thresholds_pct = thresholdsPct;
      const config = {};
      if (value("config.environment")) config.environment = values["config.environment"]; // read by the API
      if (value("config.dynamic_config")) config.dynamic_config = values["config.dynamic_config"];
      if (Object.keys(config).length) body.config = config;
      if (problems) {
        result.append(h("div", { class: "error", role: "alert" }, h("strong", {}, "Fix the marked fields first.")));
        return;
      }
      window.history.replaceState(null, "", uiHref("/ui/drift", query));
      const where = `${body.cluster_id} / ${body.namespace || "no namespace"}`;
      submit.disabled = true;
      result.append(loading(`Collecting the window from Prometheus and judging it against the baseline of ${where}…`));
      try {
        const outcome = await api("POST", "/profiles/drift", { body });
        if (ctx.isCurrent()) result.replaceChildren(driftView(outcome));
      } catch (err) {
        if (!ctx.isCurrent()) return;
        result.replaceChildren(errorBox(err, `No drift verdict for ${where}`));
        for (const item of err.errors || []) markField(DRIFT_FIELDS[item.field] || item.field, item.message);
      } finally {
        submit.disabled = false;
      }
    };
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      check();
    });
    if (params.get("cluster")) await check();
  }

  function driftView(outcome) {
    const [word, verdictClass] = DRIFT_STATUS[outcome.status] || [String(outcome.status).toUpperCase(), "inconclusive"];
    const baseline = outcome.baseline;
    const deviations = outcome.deviations || [];
    const current = { cluster_id: outcome.cluster_id, namespace: outcome.namespace, task_queue: outcome.task_queue };
    return h(
      "div",
      {},
      h(
        "section",
        { class: `verdict verdict-${verdictClass}`, id: "drift-status", dataset: { status: outcome.status } },
        h("div", { class: "verdict-word" }, word),
        h(
          "div",
          {},
          h("p", { class: "summary" }, outcome.summary),
          h("p", { class: "explanation" }, outcome.explanation),
          h(
            "p",
            { class: "counts" },
            severityBadges(deviations),
            h("span", { class: "muted" }, ` · verdict ${outcome.verdict} · statistic ${outcome.statistic} · thresholds ${thresholdsText(outcome.thresholds_pct)}`),
          ),
        ),
      ),
      h(
        "div",
        { class: "sides" },
        h(
          "section",
          { class: "card", id: "drift-baseline" },
          h("h2", {}, "Baseline"),
          h("div", {}, h("a", { href: `/ui/profiles/${encodeURIComponent(baseline.id)}`, class: "profile-name" }, baseline.name), " ", baselineMark(), baseline.label ? [" ", badge(baseline.label, "label")] : null),
          h("div", { class: "muted" }, scope(baseline)),
          h("div", { class: "muted" }, fmtWindow(baseline.time_window_start, baseline.time_window_end)),
        ),
        h("div", { class: "arrow", "aria-hidden": "true" }, "→"),
        h(
          "section",
          { class: "card", id: "drift-window" },
          h("h2", {}, "Judged window"),
          h("div", {}, scope(current)),
          h("div", { class: "muted" }, fmtWindow(outcome.time_window_start, outcome.time_window_end)),
          h("div", { class: "muted" }, `${outcome.coverage.with_data} of ${outcome.coverage.asked} metrics have data`),
        ),
      ),
      section(
        `Deviations (${deviations.length}): by severity, regressions first, largest first`,
        h("p", { class: "muted" }, `The baseline and the window compare each metric's ${outcome.statistic}; `, h("span", { class: "key-metric" }, "●"), " marks a key metric, whose missing data makes the verdict inconclusive."),
        diffsTable(deviations, { sides: ["Baseline", "Window"], id: "deviations-table", empty: "No metric moved beyond its threshold." }),
      ),
      correlationsSection(outcome.correlations || []),
      outcome.notes && outcome.notes.length ? section("Notes", h("ul", { class: "notes", id: "drift-notes" }, outcome.notes.map((note) => h("li", {}, note)))) : null,
    );
  }

  // --- conformance page ---------------------------------------------------------------------------

  const CHECK_RANK = { fail: 0, no_data: 1, warn: 2, pass: 3 };

  async function renderConformance(ctx, params, id) {
    setTitle("Conformance");
    const status = h("div", {}, loading("Loading the profile and presets…"));
    main.append(status);
    let profile;
    let presets;
    try {
      [profile, presets] = await Promise.all([api("GET", `/profiles/${encodeURIComponent(id)}`), loadPresets()]);
    } catch (err) {
      if (ctx.isCurrent()) status.replaceChildren(errorBox(err, "Could not load the profile"));
      return;
    }
    if (!ctx.isCurrent()) return;
    status.remove();
    setTitle(`Conformance of ${profile.name}`);
    const chosen = params.get("preset") || profile.preset || "";
    const select = h(
      "select",
      { id: "preset-select", name: "preset" },
      chosen ? null : h("option", { value: "" }, "choose a preset…"),
      presets.map((p) => h("option", { value: p.name, selected: p.name === chosen }, `${p.title} (${p.name})`)),
    );
    const run = h("button", { type: "submit", id: "run-conformance" }, "Check conformance");
    const form = h("form", { class: "inline-form", id: "conformance-form" }, h("label", { for: "preset-select" }, "Preset"), select, run);
    const description = h("p", { class: "muted", id: "preset-description" });
    const showDescription = () => {
      const preset = presets.find((p) => p.name === select.value);
      description.textContent = preset ? preset.description : "";
    };
    select.addEventListener("change", showDescription);
    showDescription();
    const result = h("div", { id: "conformance-result" });
    const recommendResult = h("div", { id: "recommendation-result" });
    const recommend = h("button", { type: "button", class: "secondary", id: "recommend" }, "Which preset fits, and what to change?");

    main.append(
      pageHeader(
        "Conformance to a scale preset",
        null,
        h("p", {}, h("a", { href: `/ui/profiles/${encodeURIComponent(profile.id)}`, class: "profile-name" }, profile.name), profile.is_baseline ? [" ", baselineMark()] : null, h("span", { class: "muted" }, ` · ${scope(profile)} · ${fmtWindow(profile.time_window_start, profile.time_window_end)}`)),
      ),
      section(null, form, description),
      result,
      section("Recommendation", h("p", { class: "muted" }, "The preset whose throughput range holds this profile's throughput, and configuration overrides for its failing or warning metrics."), recommend, recommendResult),
    );

    const check = async () => {
      if (!select.value) {
        result.replaceChildren(h("div", { class: "error", role: "alert" }, h("strong", {}, "Choose a preset first.")));
        return;
      }
      window.history.replaceState(null, "", uiHref(window.location.pathname, { preset: select.value }));
      run.disabled = true;
      result.replaceChildren(loading(`Checking against ${select.value}…`));
      try {
        const outcome = await api("POST", `/profiles/${encodeURIComponent(profile.id)}/conformance`, { body: { preset: select.value } });
        if (ctx.isCurrent()) result.replaceChildren(conformanceResult(outcome));
      } catch (err) {
        if (ctx.isCurrent()) result.replaceChildren(errorBox(err, "The conformance check failed"));
      } finally {
        run.disabled = false;
      }
    };
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      check();
    });
    recommend.addEventListener("click", async () => {
      recommend.disabled = true;
      recommendResult.replaceChildren(loading("Finding the preset that fits…"));
      try {
        const rec = await api("POST", `/profiles/${encodeURIComponent(profile.id)}/recommendation`);
        if (ctx.isCurrent()) recommendResult.replaceChildren(recommendationView(rec));
      } catch (err) {
        if (ctx.isCurrent()) recommendResult.replaceChildren(errorBox(err, "No recommendation"));
      } finally {
        recommend.disabled = false;
      }
    });
    if (chosen) await check();
  }

  function conformanceResult(outcome) {
    const verdictClass = { pass: "pass", warn: "warn", fail: "fail" }[outcome.verdict] || "inconclusive";
    const checks = [...outcome.checks].sort((x, y) => (CHECK_RANK[x.status] ?? 9) - (CHECK_RANK[y.status] ?? 9));
    const rows = checks.map((c) =>
      h(
        "tr",
        { class: `check-row check-${c.status}`, dataset: { metric: c.metric } },
        h("td", {}, badge(c.status.replace("_", " "), `check-${c.status}`)),
        h("td", {}, h("div", {}, metricTitle(c.metric, c.title)), h("code", { class: "muted" }, `${c.metric} (${c.statistic})`)),
        h("td", { class: "num" }, formatValue(c.observed, c.unit)),
        h("td", {}, boundText(c, c.unit)),
        h("td", { class: "reason" }, c.reason),
      ),
    );
    return h(
      "div",
      {},
      h(
        "section",
        { class: `verdict verdict-${verdictClass}`, id: "conformance-verdict" },
        h("div", { class: "verdict-word" }, outcome.conforming ? "CONFORMING" : outcome.label.toUpperCase()),
        h("div", {}, h("p", { class: "summary" }, outcome.summary), h("p", { class: "muted" }, `preset ${outcome.preset} · verdict ${outcome.verdict} · ${outcome.failing.length} failing, ${outcome.warnings.length} warning, ${outcome.no_data.length} without data`)),
      ),
      section(`Checks (${checks.length}), failures first`, table(["Status", "Metric", ["Observed", "num"], "Expected", "Why"], rows, { class: "checks", id: "checks-table" })),
    );
  }

  function recommendationView(rec) {
    const overrides = rec.overrides.map((o) =>
      h(
        "tr",
        {},
        h("td", {}, h("code", {}, o.key), h("div", { class: "muted" }, o.part)),
        h("td", {}, valueNode(o.current_value)),
        h("td", {}, valueNode(o.suggested_value)),
        h("td", {}, o.why, h("div", { class: "muted" }, o.evidence.map((e) => `${metricTitle(e.metric)} ${e.status} at ${formatValue(e.observed, e.unit)}`).join("; "))),
      ),
    );
    return h(
      "div",
      { class: "recommendation" },
      h("p", {}, h("strong", {}, rec.preset ? `Preset: ${rec.preset}` : "No preset fits"), ` — ${rec.preset_reason}`),
      h("p", {}, rec.summary),
      overrides.length ? table(["Setting", "Current", "Suggested", "Why"], overrides) : h("p", { class: "muted" }, "No override to suggest."),
      rec.notes && rec.notes.length ? h("ul", { class: "notes" }, rec.notes.map((n) => h("li", {}, n))) : null,
    );
  }

  // --- the token field ----------------------------------------------------------------------------

  function setupToken() {
    const form = document.getElementById("token-form");
    const input = document.getElementById("token-input");
    const state = document.getElementById("token-state");
    const show = () => {
      state.textContent = savedToken() ? "saved" : "";
      input.placeholder = savedToken() ? "•••••••• (saved)" : "not set";
    };
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      try {
        if (input.value.trim()) localStorage.setItem(TOKEN_KEY, input.value.trim());
      } catch {
        state.textContent = "cannot save: storage blocked";
        return;
      }
      input.value = "";
      show();
      route();
    });
    document.getElementById("token-clear").addEventListener("click", () => {
      try {
        localStorage.removeItem(TOKEN_KEY);
      } catch {
        /* nothing saved */
      }
      input.value = "";
      show();
    });
    show();
  }

  setupToken();
  route();
})();
