// /ui/create : create a profile from a time range.

import { api, CONSTANTS, errorBox, field, fieldMarks, h, loading, loadPresets, localInputToIso, main, navigate, pageHeader, section, setFlash, setTitle, table, windowPicker } from "./helpers.js";
import { formatSpan } from "./format.js";

const QUICK_RANGES = [
  ["Last 15 min", 15],
  ["Last hour", 60],
  ["Last 3 hours", 180],
  ["Last 6 hours", 360],
  ["Last 12 hours", 720],
  ["Last 24 hours", 1440],
];

export async function renderCreate(ctx, params) {
  setTitle("Create a profile");
  const input = (name, attrs) => h("input", { id: `f-${name}`, name, ...attrs });
  const { start, end, info: windowInfo, quick } = windowPicker(QUICK_RANGES, params);
  const presetSelect = h("select", { id: "f-preset", name: "preset" }, h("option", { value: "" }, "(none)"));

  const text = (name, placeholder, required) => input(name, { type: "text", placeholder, required, maxlength: 200, value: params.get(name) || "" });
  const textarea = (name, placeholder) => h("textarea", { id: `f-${name}`, name, rows: 4, placeholder, spellcheck: "false" });
  const submit = h("button", { type: "submit", id: "create-submit" }, "Create profile");
  const rulesButton = h("button", { type: "button", id: "rules-check", class: "secondary" }, "Check recording rules");
  const result = h("div", { id: "create-result" });
  const rulesResult = h("div", { id: "rules-result" });
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
    h("div", { class: "form-actions" }, submit, rulesButton, h("a", { href: "/ui/", class: "button secondary" }, "Cancel")),
    result,
    rulesResult,
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

  // Would a profile of this window read the recording rules? The same check as `copilot profiles rules`.
  rulesButton.addEventListener("click", async () => {
    clearErrors();
    rulesResult.replaceChildren();
    const values = Object.fromEntries(new FormData(form).entries());
    const cluster = String(values.cluster_id || "").trim();
    if (!cluster) {
      markField("cluster_id", "Required.");
      return;
    }
    const query = { cluster, namespace: String(values.namespace || "").trim(), task_queue: String(values.task_queue || "").trim() };
    if (start.value && end.value) {
      query.start = localInputToIso(start.value);
      query.end = localInputToIso(end.value);
    }
    rulesButton.disabled = true;
    rulesResult.append(loading("Looking up the recorded series of the window…"));
    try {
      const status = await api("GET", "/profiles/recording-rules", { query });
      if (!ctx.isCurrent()) return;
      const raw = status.metrics.filter((m) => m.state !== "recorded");
      rulesResult.replaceChildren(
        section(
          "Recording rules",
          h("p", { id: "rules-summary" }, status.summary),
          raw.length
            ? table(
                ["Metric", "State", "Reads"],
                raw.map((m) => h("tr", { "data-metric": m.metric }, h("td", {}, m.metric), h("td", {}, m.state), h("td", {}, m.reads))),
                { id: "rules-table" },
              )
            : null,
        ),
      );
    } catch (err) {
      if (!ctx.isCurrent()) return;
      rulesResult.replaceChildren(errorBox(err, "The recording rules could not be checked"));
    } finally {
      rulesButton.disabled = false;
    }
  });

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
      setFlash({ text: `Profile "${meta.name}" created: ${meta.coverage_with_data} of ${meta.coverage_asked} metrics have data.${noted}` });
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
