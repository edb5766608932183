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
// This module is the entry (an ES module, as every file here): it routes the address to its page's
// module (list.js, create.js, profile.js, conformance.js, compare.js, drift.js, envelope.js), which
// build the page with helpers.js (DOM, API, charts, forms) and format.js (the server's formatting rules).
// Data from the API is only ever put into the page as text (helpers.js's h() never parses HTML), so a
// profile named "<script>" is shown as just that.

import { errorBox, h, main, navigate, purgeCharts, savedToken, section, setRouter, takeFlash, TOKEN_KEY } from "./helpers.js";
import { renderList } from "./list.js";
import { renderCreate } from "./create.js";
import { renderProfile } from "./profile.js";
import { renderCompare } from "./compare.js";
import { renderDrift } from "./drift.js";
import { renderEnvelope } from "./envelope.js";
import { renderConformance } from "./conformance.js";

let renderSeq = 0; // a page render that is no longer the current one stops touching the page

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
  const flash = takeFlash();
  if (flash) {
    main.append(h("div", { class: `flash ${flash.kind || "ok"}`, role: "status" }, flash.text));
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

setRouter(route);
setupToken();
route();
