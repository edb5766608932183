// /ui/ : the profiles, newest first, with filters, baseline marks and the A/B pickers.

import { apiRequest, badge, baselineMark, designateBaseline, driftHref, errorBox, excludedMark, h, loading, localInputToIso, main, navigate, pageHeader, profileLink, scope, section, setTitle, shortId, uiHref } from "./helpers.js";
import { formatInstant, formatWindow } from "./format.js";

const FILTERS = [
  ["cluster", "Cluster", "temporal-prod"],
  ["namespace", "Namespace", "default"],
  ["label", "Label", "baseline-150wps"],
  ["task_queue", "Task queue", "main-queue"],
];

export async function renderList(ctx, params) {
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
      profileLink(profile.id, profile.name),
      profile.label ? [" ", badge(profile.label, "label")] : null,
      profile.excluded_from_baselines ? [" ", excludedMark(profile)] : null,
      h("div", { class: "muted mono" }, shortId(profile.id)),
    ),
    h("td", {}, scope(profile)),
    h("td", { class: "nowrap" }, formatWindow(profile.time_window_start, profile.time_window_end)),
    h("td", { class: coverageRatio < 0.5 ? "warn-text" : "", title: "catalogue metrics with data / asked" }, `${profile.coverage_with_data} / ${profile.coverage_asked}`),
    h("td", {}, versions.length ? versions.join(", ") : h("span", { class: "muted" }, "unknown")),
    h("td", { class: "nowrap" }, formatInstant(profile.created_at)),
    h("td", {}, baselineCell),
  );
}
