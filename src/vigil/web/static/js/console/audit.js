// The audit screen (administrators and auditors, permission audit.read): the audit log newest first with
// each row's hash-chain verdict, filters (actor, action or a prefix such as alert.*, list, period), the
// whole chain's verdict, and a link to the period's accountability report (GET /reports, a new tab).
//
// data-testid:
//   screen-title, audit-error, audit-chain (data-ok), audit-filters, audit-actor, audit-action,
//   audit-list, audit-since, audit-until, audit-apply, audit-report, audit-table,
//   audit-row (data-id, data-actor, data-action, data-chain), audit-more

import { api, query } from "../api.js";
import { absolute, errorBox, h, localIso, showError } from "../dom.js";

const PAGE = 100;

function select(testid, label, id) {
  return [h("label", { for: id }, label), h("select", { id, "data-testid": testid }, h("option", { value: "" }, "All"))];
}

function field(...children) {
  return h("div", { class: "field" }, ...children);
}

export function mount(root) {
  const error = errorBox("audit-error");
  const chain = h("p", { class: "muted", role: "status", "data-testid": "audit-chain" }, "Checking the chain…");
  const [actorLabel, actor] = select("audit-actor", "Actor", "audit-actor");
  const [actionLabel, action] = select("audit-action", "Action", "audit-action");
  const list = h("input", { id: "audit-list", type: "text", maxlength: "64", "data-testid": "audit-list" });
  const since = h("input", { id: "audit-since", type: "datetime-local", "data-testid": "audit-since" });
  const until = h("input", { id: "audit-until", type: "datetime-local", "data-testid": "audit-until" });
  const apply = h("button", { type: "submit", class: "btn btn-primary", "data-testid": "audit-apply" }, "Apply");
  const report = h(
    "a",
    { class: "btn", target: "_blank", rel: "noopener", "data-testid": "audit-report", href: "/reports" },
    "Open the period report",
  );
  const form = h(
    "form",
    { class: "filter-grid", "data-testid": "audit-filters", "aria-label": "Audit filters" },
    field(actorLabel, actor),
    field(actionLabel, action),
    field(h("label", { for: "audit-list" }, "List"), list),
    field(h("label", { for: "audit-since" }, "Since"), since),
    field(h("label", { for: "audit-until" }, "Until"), until),
    h("div", { class: "filter-actions" }, apply, report),
  );
  const tbody = h("tbody");
  const table = h(
    "table",
    { class: "table audit-table", "data-testid": "audit-table" },
    h("caption", { class: "visually-hidden" }, "Audit log"),
    h("thead", null, h("tr", null, ["#", "When", "Actor", "Action", "Subject", "Reason", "Chain"].map((t) => h("th", { scope: "col" }, t)))),
    tbody,
  );
  const more = h("button", { type: "button", class: "btn", hidden: true, "data-testid": "audit-more" }, "Older rows");
  root.append(
    h("div", { class: "screen-head" }, h("h1", { "data-testid": "screen-title" }, "Audit log")),
    chain,
    error,
    form,
    h("div", { class: "table-wrap" }, table),
    more,
  );

  let stopped = false;
  let cursor = null;

  function period() {
    // localIso turns a datetime-local value into an ISO time with the browser's zone (what the API wants).
    return { since: since.value ? localIso(since.value) : "", until: until.value ? localIso(until.value) : "" };
  }

  function paintReport() {
    const p = period();
    const end = p.until || new Date().toISOString();
    const start = p.since || new Date(Date.parse(end) - 7 * 86400_000).toISOString();
    report.href = `/reports${query({ since: start, until: end })}`;
  }

  function row(r) {
    const ok = r.chain === "ok";
    return h(
      "tr",
      { "data-testid": "audit-row", dataset: { id: String(r.id), actor: r.actor, action: r.action, chain: r.chain } },
      h("td", { "data-label": "#" }, String(r.id)),
      h("td", { "data-label": "When" }, absolute(r.at)),
      h("td", { "data-label": "Actor" }, r.actor),
      h("td", { "data-label": "Action" }, h("code", null, r.action)),
      h("td", { "data-label": "Subject" }, r.subject || "—"),
      h("td", { "data-label": "Reason" }, r.reason || "—"),
      h("td", { "data-label": "Chain" }, h("span", { class: ["badge", ok ? "status-confirmed" : "status-rejected"] }, r.chain)),
    );
  }

  async function load(append) {
    const p = period();
    const params = { actor: actor.value, action: action.value, list: list.value.trim(), ...p, limit: PAGE };
    if (append && cursor) params.cursor = cursor;
    try {
      const page = await api("GET", `/audit${query(params)}`);
      if (stopped) return;
      showError(error, null);
      const rows = page.rows.map(row);
      if (append) tbody.append(...rows);
      else tbody.replaceChildren(...rows);
      if (!append && !rows.length) tbody.append(h("tr", null, h("td", { colspan: "7", class: "muted" }, "No rows match.")));
      cursor = page.next_cursor;
      more.hidden = cursor === null;
    } catch (e) {
      if (!stopped) showError(error, e);
    }
  }

  async function facets() {
    try {
      const f = await api("GET", "/audit/facets");
      if (stopped) return;
      actor.append(...f.actors.map((a) => h("option", { value: a }, a)));
      const prefixes = [...new Set(f.actions.filter((a) => a.includes(".")).map((a) => `${a.split(".")[0]}.*`))];
      action.append(...[...prefixes, ...f.actions].sort().map((a) => h("option", { value: a }, a)));
    } catch (e) {
      if (!stopped) showError(error, e);
    }
  }

  async function verify() {
    try {
      const v = await api("GET", "/audit/verify");
      if (stopped) return;
      chain.dataset.ok = String(v.ok);
      chain.className = v.ok ? "" : "error";
      chain.textContent = v.ok
        ? `Chain intact: ${v.rows} rows verified.`
        : `Chain broken at row ${v.broken_at}: ${v.reason}`;
    } catch (e) {
      if (!stopped) showError(error, e);
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    paintReport();
    load(false);
  });
  for (const input of [since, until]) input.addEventListener("change", paintReport);
  more.addEventListener("click", () => load(true));
  paintReport();
  facets();
  verify();
  load(false);
  return () => {
    stopped = true;
  };
}
