// /ui/profiles/{id}/conformance?preset=P : the profile checked against a scale preset, and a recommendation.

import { api, badge, baselineMark, errorBox, h, loading, loadPresets, main, metricTitle, pageHeader, profileLink, scope, section, setTitle, table, uiHref, valueNode } from "./helpers.js";
import { boundText, formatValue, formatWindow } from "./format.js";

const CHECK_RANK = { fail: 0, no_data: 1, warn: 2, pass: 3 };

export async function renderConformance(ctx, params, id) {
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
      h("p", {}, profileLink(profile.id, profile.name), profile.is_baseline ? [" ", baselineMark()] : null, h("span", { class: "muted" }, ` · ${scope(profile)} · ${formatWindow(profile.time_window_start, profile.time_window_end)}`)),
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
