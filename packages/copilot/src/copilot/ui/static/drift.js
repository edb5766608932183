// /ui/drift?cluster=C&namespace=N : a window judged against the active baseline.

import { api, badge, baselineMark, CONSTANTS, errorBox, field, fieldMarks, h, loading, localInputToIso, main, pageHeader, profileLink, scope, section, setTitle, severityBadges, thresholdsText, uiHref, windowPicker } from "./helpers.js";
import { formatSpan, formatWindow } from "./format.js";
import { attributionsSection, correlationsSection, diffsTable } from "./compare.js";

const DRIFT_RANGES = [
  ["Last 15 min", 15],
  ["Last 30 min", 30],
  ["Last hour", 60],
  ["Last 3 hours", 180],
];

const DRIFT_DEFAULT_MINUTES = CONSTANTS.drift_window_minutes; // what the API judges when the request gives no window

const THRESHOLD_CLASSES = CONSTANTS.threshold_classes.map((cls) => [cls, cls.charAt(0).toUpperCase() + cls.slice(1)]);
const STATISTICS = CONSTANTS.statistics;

// status -> [word, verdict colour class]: drifted red, no drift green, inconclusive magenta (as the CLI).
const DRIFT_STATUS = {
  drifted: ["DRIFTED", "fail"],
  no_drift: ["NO DRIFT", "pass"],
  inconclusive: ["INCONCLUSIVE", "inconclusive"],
};

// The API's field names (in a 422's errors) -> this form's fields.
const DRIFT_FIELDS = {
  cluster_id: "cluster",
  include_all: "all",
  ...Object.fromEntries(THRESHOLD_CLASSES.map(([cls]) => [`thresholds_pct.${cls}`, `${cls}_pct`])),
};

export async function renderDrift(ctx, params) {
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
  const chosenStatistic = STATISTICS.includes(params.get("statistic")) ? params.get("statistic") : CONSTANTS.default_statistic;
  const statistic = h("select", { id: "f-statistic", name: "statistic" }, STATISTICS.map((s) => h("option", { value: s, selected: s === chosenStatistic }, s)));
  const includeAll = h("input", { id: "f-all", name: "all", type: "checkbox", checked: Boolean(params.get("all")) });
  const rolling = h("input", { id: "f-rolling", name: "rolling", type: "number", min: 1, max: CONSTANTS.max_rolling, step: 1, placeholder: "designated only", value: params.get("rolling") || "" });
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
      field("rolling", "Rolling baseline: pool the last N passing profiles", rolling, `1 to ${CONSTANTS.max_rolling}, from the designated baseline on; each later profile joins when it passed against the pool before it. Empty: the designated baseline alone.`),
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
      h("legend", {}, "How to judge (optional)"),
      h("div", { class: "grid-4" }, thresholds),
      h(
        "div",
        { class: "grid-2" },
        field("statistic", "Statistic compared", statistic),
        h("div", { class: "field", dataset: { field: "all" } }, h("label", { class: "check" }, includeAll, "Show metrics within their thresholds too"), h("div", { class: "field-error", id: "err-all" })),
      ),
      h("p", { class: "hint" }, `A change beyond its class's percentage is a warning, beyond ${CONSTANTS.critical_times} it critical. Empty: the deployment's default, else ${thresholdsText(CONSTANTS.default_thresholds_pct)}.`),
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
    if (value("statistic") && value("statistic") !== CONSTANTS.default_statistic) body.statistic = query.statistic = value("statistic");
    if (values.all) body.include_all = query.all = true;
    const pooled = value("rolling");
    if (pooled) {
      const n = Number(pooled);
      if (!Number.isInteger(n) || n < 1 || n > CONSTANTS.max_rolling) problems += markField("rolling", `A whole number from 1 to ${CONSTANTS.max_rolling}, or empty.`) ? 1 : 0;
      else body.rolling = query.rolling = n;
    }
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
      outcome.rolling_baseline
        ? rollingCard(outcome.rolling_baseline)
        : h(
            "section",
            { class: "card", id: "drift-baseline" },
            h("h2", {}, "Baseline"),
            h("div", {}, profileLink(baseline.id, baseline.name), " ", baselineMark(), baseline.label ? [" ", badge(baseline.label, "label")] : null),
            h("div", { class: "muted" }, scope(baseline)),
            h("div", { class: "muted" }, formatWindow(baseline.time_window_start, baseline.time_window_end)),
          ),
      h("div", { class: "arrow", "aria-hidden": "true" }, "→"),
      h(
        "section",
        { class: "card", id: "drift-window" },
        h("h2", {}, "Judged window"),
        h("div", {}, scope(current)),
        h("div", { class: "muted" }, formatWindow(outcome.time_window_start, outcome.time_window_end)),
        h("div", { class: "muted" }, `${outcome.coverage.with_data} of ${outcome.coverage.asked} metrics have data`),
      ),
    ),
    section(
      `Deviations (${deviations.length}): by severity, regressions first, largest first`,
      h("p", { class: "muted" }, `The baseline and the window compare each metric's ${outcome.statistic}; `, h("span", { class: "key-metric" }, "●"), " marks a key metric, whose missing data makes the verdict inconclusive."),
      diffsTable(deviations, { sides: ["Baseline", "Window"], id: "deviations-table", empty: "No metric moved beyond its threshold." }),
    ),
    correlationsSection(outcome.correlations || []),
    attributionsSection(outcome.attributions || [], {
      sides: ["baseline", "window"],
      empty: "No regression to place: none regressed, or the baseline or the window kept no contributors (a baseline made before they were kept, or a rolling baseline pooling one).",
      kept: "the baseline's kept at its creation, the window's collected now",
    }),
    outcome.notes && outcome.notes.length ? section("Notes", h("ul", { class: "notes", id: "drift-notes" }, outcome.notes.map((note) => h("li", {}, note)))) : null,
  );
}


// The profiles a rolling baseline pooled (oldest first) and those it left out, with why.
function rollingCard(rolling) {
  const pooled = (profile) => h("li", { dataset: { id: profile.id } }, profileLink(profile.id, profile.name), profile.id === rolling.anchor.id ? [" ", baselineMark()] : null, h("div", { class: "muted" }, formatWindow(profile.time_window_start, profile.time_window_end)));
  const leftOut = (item) => h("li", { dataset: { id: item.profile.id } }, profileLink(item.profile.id, item.profile.name), item.verdict ? [" ", badge(item.verdict, `check-${item.verdict}`)] : null, h("div", { class: "muted" }, item.reason));
  return h(
    "section",
    { class: "card", id: "drift-baseline" },
    h("h2", {}, `Rolling baseline: ${rolling.pooled.length} pooled`),
    h("div", { class: "muted" }, scope(rolling.anchor)),
    h("ol", { id: "drift-pooled", class: "pooled" }, rolling.pooled.map(pooled)),
    rolling.left_out.length ? h("details", { id: "drift-left-out" }, h("summary", {}, `Left out (${rolling.left_out.length})`), h("ul", {}, rolling.left_out.map(leftOut))) : null,
    (rolling.notes || []).map((note) => h("p", { class: "muted" }, note)),
  );
}
