// /ui/envelope?cluster=C&label=L : a load sweep's capacity envelope.

import { api, axisFormat, badge, baseLayout, COLOUR_A, COLOUR_B, drawAll, errorBox, field, fieldMarks, h, loading, loadPresets, main, metricTitle, pageHeader, profileLink, PLOT_CONFIG, plotlyText, purgeCharts, section, setTitle, table, uiHref, unitName } from "./helpers.js";
import { formatValue } from "./format.js";

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
      h("td", {}, profileLink(s.profile_id, s.name)),
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

export async function renderEnvelope(ctx, params) {
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
