// /ui/profiles/{id} : one profile's metrics, charts, configuration snapshot and versions.

import { api, axisFormat, badge, baseLayout, baselineMark, CATALOGUE, COLOUR_A, CONSTANTS, designateBaseline, drawAll, errorBox, excludedMark, h, loading, loadPresets, main, metricTitle, navigate, pageHeader, PLOT_CONFIG, plotlyText, scope, section, setTitle, uiHref, unitName, utcString, valueNode } from "./helpers.js";
import { formatInstant, formatNumber, formatValue, formatWindow } from "./format.js";

const CATEGORY_TITLES = {
  throughput: "Throughput",
  latency: "Latency",
  matching: "Matching",
  dsql_pool: "DSQL connection pool",
  errors: "Errors",
  resources: "Resources",
};

const CONFIG_PARTS = [
  ["environment", "Environment"],
  ["dsql_plugin", "DSQL plugin settings"],
  ["dynamic_config", "Dynamic config"],
  ["worker_options", "Worker options"],
];

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

export async function renderProfile(ctx, params, id) {
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
        fact("Window", formatWindow(profile.time_window_start, profile.time_window_end)),
        fact("Coverage", `${coverage.with_data} of ${coverage.asked} metrics have data`),
        fact("Metric dialect", `${telemetry.dialect || "?"}, ${telemetry.step_seconds || "?"} s step`),
        fact("Created", formatInstant(profile.created_at)),
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
        compareSelect.append(h("option", { value: other.id }, `${other.is_baseline ? "★ " : ""}${other.name} · ${other.namespace || "*"} · ${formatInstant(other.time_window_start)}`));
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
