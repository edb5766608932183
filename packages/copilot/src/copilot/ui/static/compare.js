// /ui/compare?a={id}&b={id} : A and B compared; its tables are reused by the drift page.

import { api, axisFormat, badge, baseLayout, baselineMark, COLOUR_A, COLOUR_B, CONSTANTS, drawAll, errorBox, h, loading, main, metricTitle, navigate, pageHeader, profileLink, PLOT_CONFIG, plotlyText, scope, section, setTitle, SEVERITY_RANK, severityBadges, table, thresholdsText, uiHref, valueNode } from "./helpers.js";
import { formatChange, formatP, formatThreshold, formatValue, formatWindow } from "./format.js";

const STATISTICS = CONSTANTS.statistics;

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

export async function renderCompare(ctx, params) {
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
    attributionsSection(comparison.attributions || []),
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

function sideCard(side, profile, cls) {
  return h(
    "section",
    { class: `card side ${cls}` },
    h("div", { class: "side-tag" }, side),
    h("div", {}, profileLink(profile.id, profile.name), profile.is_baseline ? [" ", baselineMark()] : null, profile.label ? [" ", badge(profile.label, "label")] : null),
    h("div", { class: "muted" }, scope(profile)),
    h("div", { class: "muted" }, formatWindow(profile.time_window_start, profile.time_window_end)),
  );
}

const RELATION_TEXT = {
  expected: ["likely cause", "The change went the way known to cause this regression"],
  possible: ["possible cause", "The setting influences this metric; which way is not known for this change"],
  contrary: ["unlikely cause", "The change went the way known to improve this metric"],
};

// Where each regression lives (the comparison's or the drift's attributions): its sentence, and the
// contributors whose share or value moved most, with their share and own value on each side. `sides`
// names the old and the new side in the column heads, `empty` and `kept` say what was matched.
export function attributionsSection(
  attributions,
  {
    sides = ["A", "B"],
    empty = "No regression to place: none regressed, or the profiles kept no contributors (profiles made before they were kept).",
    kept = "kept at creation",
  } = {},
) {
  const title = "Where: the series each regression comes from";
  if (!attributions.length) {
    return section(title, h("p", { class: "muted" }, empty));
  }
  const [oldSide, newSide] = sides;
  const share = (value) => formatValue(value, "share");
  const series = (labels) => Object.entries(labels).map(([label, value]) => `${label}=${value}`).join(", ");
  const items = attributions.map((a) =>
    h(
      "li",
      { class: "attribution", dataset: { metric: a.metric } },
      h("p", { class: "attribution-statement" }, a.statement),
      table(
        ["series", `share ${oldSide}`, `share ${newSide}`, `own value ${oldSide}`, `own value ${newSide}`],
        a.contributors.map((c) =>
          h("tr", {}, [series(c.labels), share(c.old_share), share(c.new_share), formatValue(c.old_value, a.unit), formatValue(c.new_value, a.unit)].map((cell) => h("td", {}, cell))),
        ),
        { class: "contributors" },
      ),
    ),
  );
  return section(title, h("p", { class: "muted" }, `Shares of the slow tail (latency), of the sum (rates), of the part that makes a ratio worse, or of the instants a series was the largest (a maximum); ${kept}, at most five per metric.`), h("ul", { class: "attributions", id: "attributions" }, items));
}

// Correlations grouped by the configuration change they start from, most severe metric first.
export function correlationsSection(correlations) {
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
export function diffsTable(diffs, options = {}) {
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
