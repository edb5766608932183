// Shared by every page: the DOM builder, the one API client, the server's data blocks (catalogue,
// formatting rules, constants), time and value display, charts, forms, navigation and shared actions.
// Data from the API is only ever put into the page as text (h() never parses HTML).

import { formatSpan, formatThreshold, formatWindow, useRules } from "./format.js";

export const TOKEN_KEY = "copilot.apiToken";

export const CATALOGUE = JSON.parse(document.getElementById("catalogue").textContent || "{}");

// How the server writes numbers and bounds (behaviour_profiles.formatting), and its constants.
const RULES = JSON.parse(document.getElementById("ui-rules").textContent || "{}");

useRules(RULES.format);

export const CONSTANTS = RULES.constants;

export const SEVERITY_RANK = Object.fromEntries(CONSTANTS.severities.map((severity, rank) => [severity, rank]));

export const COLOUR_A = "#5b7083";

export const COLOUR_B = "#e8590c";

const MAX_WINDOW_MS = CONSTANTS.max_window_seconds * 1000;

export const main = document.getElementById("app");

let flash = null; // a message carried to the next page (e.g. "profile created")

export function setFlash(message) {
  flash = message;
}

// The message for the page being drawn, once.
export function takeFlash() {
  const message = flash;
  flash = null;
  return message;
}

let router = () => Promise.resolve(); // app.js draws the page the address names

export function setRouter(draw) {
  router = draw;
}

// h("a", {href: "/ui/", class: "x", onclick: fn}, "text", child, [more]) -> Element.
// Strings become text nodes; null, undefined and false children are skipped.
export function h(tag, attrs, ...children) {
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

// A profile's name, linking to its page.
export function profileLink(id, name) {
  return h("a", { href: `/ui/profiles/${encodeURIComponent(id)}`, class: "profile-name" }, name);
}

export function badge(text, kind, title) {
  return h("span", { class: `badge ${kind || ""}`, title }, text);
}

export function loading(text) {
  return h("div", { class: "loading", role: "status" }, h("span", { class: "spinner", "aria-hidden": "true" }), text);
}

export function section(title, ...children) {
  return h("section", { class: "card" }, title ? h("h2", {}, title) : null, children);
}

// headers: "Name" or ["Name", "num"] for a right-aligned numeric column.
export function table(headers, rows, attrs) {
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

export function savedToken() {
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
export async function apiRequest(method, path, options = {}) {
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

export async function api(method, path, options) {
  return (await apiRequest(method, path, options)).data;
}

export function errorBox(err, context) {
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

export function unitName(unit) {
  return { "1/s": "per second", ratio: "ratio (%)", ms: "milliseconds", s: "seconds" }[unit] || unit || "";
}

export function metricTitle(key, fallback) {
  return (CATALOGUE[key] && CATALOGUE[key].title) || fallback || key;
}

export function shortId(id) {
  return String(id).slice(0, 8);
}

export function scope(profile) {
  return [profile.cluster_id, profile.namespace || "*", profile.task_queue].filter(Boolean).join(" / ");
}

function isRedacted(value) {
  return typeof value === "string" && value.startsWith("<redacted");
}

// A configuration value as nodes: redacted secrets as a badge, structures as nested lists.
export function valueNode(value) {
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

function plotlyReady() {
  return typeof window.Plotly === "object" && window.Plotly !== null;
}

// Plotly reads text as a small HTML subset: anything we give it from data is escaped first.
export function plotlyText(text) {
  return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

export function axisFormat(unit) {
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

export function utcString(unixSeconds) {
  return new Date(unixSeconds * 1000).toISOString().slice(0, 19).replace("T", " ");
}

export const PLOT_CONFIG = { displayModeBar: false, responsive: true };

export function baseLayout(unit, height) {
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

// Draw queued charts a few per frame so that a page of thirty charts stays responsive.
export async function drawAll(jobs, isCurrent) {
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

export function purgeCharts() {
  if (!plotlyReady()) return;
  for (const el of main.querySelectorAll(".js-plotly-plot")) window.Plotly.purge(el);
}

export function navigate(href, replace = false) {
  if (replace) window.history.replaceState(null, "", href);
  else window.history.pushState(null, "", href);
  window.scrollTo(0, 0);
  return router();
}

export function setTitle(text) {
  document.title = `${text} · Behaviour Profiles`;
}

export function pageHeader(title, subtitle, ...extra) {
  return h("div", { class: "page-header" }, h("h1", {}, title), subtitle ? h("p", { class: "subtitle" }, subtitle) : null, extra);
}

export function uiHref(path, query) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== null && value !== undefined && value !== "" && value !== false) params.set(key, value === true ? "1" : value);
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

export async function designateBaseline(profile, button) {
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
export function excludedMark(profile) {
  return badge("excluded from baselines", "excluded", profile.exclusion_reason || "");
}

export function baselineMark() {
  return badge("★ baseline", "baseline", "The active baseline of its cluster and namespace");
}

export async function loadPresets() {
  return api("GET", "/presets");
}

// datetime-local values are read as UTC here: "2026-02-18T10:00" -> "2026-02-18T10:00:00Z".
export function localInputToIso(value) {
  if (!value) return "";
  return value.length === 16 ? `${value}:00Z` : `${value}Z`;
}

function isoToLocalInput(date) {
  return date.toISOString().slice(0, 16);
}

export function field(name, label, input, hint) {
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
export function fieldMarks(form) {
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
export function windowPicker(ranges, params) {
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
      info.textContent = `Window: ${formatWindow(a.toISOString(), b.toISOString())}`;
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

export function severityBadges(diffs) {
  const counts = { critical: 0, warning: 0, info: 0 };
  for (const diff of diffs) counts[diff.severity] = (counts[diff.severity] || 0) + 1;
  return [badge(`${counts.critical} critical`, "sev-critical"), " ", badge(`${counts.warning} warning`, "sev-warning"), " ", badge(`${counts.info} info`, "sev-info")];
}

export function thresholdsText(thresholds) {
  return Object.entries(thresholds).map(([cls, pct]) => `${cls} ${formatThreshold(pct)}`).join(", ");
}

export function driftHref(profile) {
  return uiHref("/ui/drift", { cluster: profile.cluster_id, namespace: profile.namespace });
}
