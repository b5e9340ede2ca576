// The clusters screen: unknown faces (archived tracks that matched no list) grouped by who they look like,
// the biggest first, each with its best shots. Operators name a cluster (enrol the person on a list from
// its best shots), merge the selected clusters into one, split the selected shots off, or dismiss it;
// every change asks for a reason (kept in the audit log). Viewers look only.
//
// data-testid:
//   screen-title, clusters-error, clusters-status, clusters-min-size, clusters-list,
//   cluster-card (data-cluster-id, data-status, data-size), cluster-size, cluster-cameras, cluster-person,
//   cluster-shot (data-event-id), cluster-shot-pick, cluster-pick, cluster-name, cluster-merge,
//   cluster-split, cluster-dismiss, cluster-error, cluster-name-list, cluster-name-person, cluster-force,
//   clusters-more (the dialogs: see dialog.js)

import { allows, api, query } from "../api.js";
import { absolute, errorBox, h, showError } from "../dom.js";
import { actionDialog } from "./dialog.js";

const PAGE = 24;

export function mount(root, ctx) {
  const canAct = allows(ctx.user, "operator");
  const error = errorBox("clusters-error");
  const status = h(
    "select",
    { id: "clusters-status", "data-testid": "clusters-status" },
    ["open", "named", "dismissed"].map((s) => h("option", { value: s }, s)),
  );
  const minSize = h("input", { id: "clusters-min-size", type: "number", min: "1", value: "1", "data-testid": "clusters-min-size" });
  const list = h("div", { class: "cluster-grid", "data-testid": "clusters-list" });
  const more = h("button", { type: "button", class: "btn", hidden: true, "data-testid": "clusters-more" }, "More clusters");
  root.append(
    h("div", { class: "screen-head" }, h("h1", { "data-testid": "screen-title" }, "Unknown faces")),
    h(
      "div",
      { class: "filter-grid" },
      h("div", { class: "field" }, h("label", { for: status.id }, "Status"), status),
      h("div", { class: "field" }, h("label", { for: minSize.id }, "Least tracks"), minSize),
    ),
    error,
    list,
    more,
  );

  let stopped = false;
  let offset = 0;
  let watchlists = null;
  const picked = new Set(); // cluster ids selected for a merge

  async function lists() {
    if (!watchlists) watchlists = (await api("GET", "/watchlists")).map((w) => w.name);
    return watchlists;
  }

  async function load(append = false) {
    if (!append) {
      offset = 0;
      picked.clear();
    }
    try {
      const params = { status: status.value, min_size: minSize.value || 1, limit: PAGE, offset };
      const page = await api("GET", `/clusters${query(params)}`);
      if (stopped) return;
      showError(error, null);
      const cards = page.items.map(card);
      if (append) list.append(...cards);
      else list.replaceChildren(...cards);
      if (!append && !cards.length) list.append(h("p", { class: "muted" }, "No clusters."));
      offset = page.offset + page.items.length;
      more.hidden = offset >= page.total;
    } catch (e) {
      if (!stopped) showError(error, e);
    }
  }

  function card(cluster) {
    const rowError = errorBox("cluster-error");
    const shots = h("div", { class: "cluster-shots" });
    const chosen = new Set(); // event ids selected for a split
    const el = h(
      "article",
      { class: "card cluster-card", "data-testid": "cluster-card", dataset: { clusterId: String(cluster.id), status: cluster.status, size: String(cluster.size) } },
      h(
        "header",
        null,
        h("h2", null, `Cluster ${cluster.id}`),
        h("span", { class: "badge", "data-testid": "cluster-size" }, `${cluster.size} track${cluster.size === 1 ? "" : "s"}`),
        cluster.person ? h("span", { class: "list-chip", "data-testid": "cluster-person" }, cluster.person) : null,
      ),
      h(
        "p",
        { class: "muted small" },
        `Seen ${absolute(cluster.first_seen)} – ${absolute(cluster.last_seen)} on `,
        h("span", { "data-testid": "cluster-cameras" }, cluster.cameras.join(", ")),
      ),
      shots,
    );
    if (canAct && cluster.status === "open") el.append(actions(cluster, chosen, rowError));
    el.append(rowError);
    (async () => {
      try {
        const detail = await api("GET", `/clusters/${cluster.id}`);
        if (stopped) return;
        shots.replaceChildren(...detail.shots.map((shot) => shotEl(shot, chosen, canAct && cluster.status === "open")));
      } catch (e) {
        if (!stopped) showError(rowError, e);
      }
    })();
    return el;
  }

  function shotEl(shot, chosen, selectable) {
    const img = h("img", { src: shot.image_url, alt: `Best shot of event ${shot.event_id} on ${shot.camera}`, loading: "lazy", width: "96", height: "96" });
    const figure = h("figure", { class: "cluster-shot", "data-testid": "cluster-shot", dataset: { eventId: String(shot.event_id) } }, img);
    if (selectable) {
      const box = h("input", { type: "checkbox", "data-testid": "cluster-shot-pick", "aria-label": `Select event ${shot.event_id} to split off` });
      box.addEventListener("change", () => (box.checked ? chosen.add(shot.event_id) : chosen.delete(shot.event_id)));
      figure.append(h("figcaption", null, box, ` ${shot.camera}`));
    } else {
      figure.append(h("figcaption", { class: "muted small" }, shot.camera));
    }
    return figure;
  }

  function actions(cluster, chosen, rowError) {
    const button = (testid, label) => h("button", { type: "button", class: "btn btn-small", "data-testid": testid }, label);
    const pick = h("input", { type: "checkbox", id: `cluster-pick-${cluster.id}`, "data-testid": "cluster-pick" });
    pick.addEventListener("change", () => (pick.checked ? picked.add(cluster.id) : picked.delete(cluster.id)));
    const name = button("cluster-name", "Name…");
    const merge = button("cluster-merge", "Merge selected into this");
    const split = button("cluster-split", "Split selected shots off");
    const dismiss = button("cluster-dismiss", "Dismiss");

    name.addEventListener("click", async () => {
      showError(rowError, null);
      let names;
      try {
        names = await lists();
      } catch (e) {
        showError(rowError, e);
        return;
      }
      const listPick = h("select", { id: `cluster-list-${cluster.id}`, "data-testid": "cluster-name-list" }, names.map((n) => h("option", { value: n }, n)));
      const person = h("input", { id: `cluster-person-${cluster.id}`, type: "text", maxlength: "128", required: true, "data-testid": "cluster-name-person" });
      const force = h("input", { id: `cluster-force-${cluster.id}`, type: "checkbox", "data-testid": "cluster-force" });
      const named = await actionDialog({
        title: `Name cluster ${cluster.id}`,
        message: "Enrols the person on the list from the cluster's best shots.",
        confirmLabel: "Enrol",
        danger: false,
        fields: h(
          "div",
          null,
          h("div", { class: "field" }, h("label", { for: person.id }, "Name"), person),
          h("div", { class: "field" }, h("label", { for: listPick.id }, "List"), listPick),
          h("div", { class: "field" }, h("label", { for: force.id }, force, " Keep shots below the quality gate (marked weak)")),
        ),
        run: (reason) => {
          if (!person.value.trim()) throw new Error("Please give the person's name.");
          const body = { watchlist: listPick.value, name: person.value.trim(), reason, force: force.checked };
          return api("POST", `/clusters/${cluster.id}/name`, body);
        },
      });
      if (named) {
        ctx.announce(`${named.cluster.person} enrolled on ${named.watchlist}`);
        load();
      }
    });
    merge.addEventListener("click", async () => {
      const others = [...picked].filter((id) => id !== cluster.id);
      if (!others.length) {
        showError(rowError, new Error("Select the clusters to merge into this one first."));
        return;
      }
      const done = await actionDialog({
        title: `Merge into cluster ${cluster.id}`,
        message: `Clusters ${others.join(", ")} join this one and go.`,
        confirmLabel: "Merge",
        run: (reason) => api("POST", `/clusters/${cluster.id}/merge`, { clusters: others, reason }),
      });
      if (done) load();
    });
    split.addEventListener("click", async () => {
      if (!chosen.size) {
        showError(rowError, new Error("Select the shots to split off first."));
        return;
      }
      const done = await actionDialog({
        title: `Split cluster ${cluster.id}`,
        message: `${chosen.size} track(s) move into a new cluster.`,
        confirmLabel: "Split",
        run: (reason) => api("POST", `/clusters/${cluster.id}/split`, { event_ids: [...chosen], reason }),
      });
      if (done) load();
    });
    dismiss.addEventListener("click", async () => {
      const done = await actionDialog({
        title: `Dismiss cluster ${cluster.id}`,
        message: "Not of interest: the cluster leaves the open ones.",
        confirmLabel: "Dismiss",
        run: (reason) => api("POST", `/clusters/${cluster.id}/dismiss`, { reason }),
      });
      if (done) load();
    });
    return h(
      "div",
      { class: "row-actions" },
      h("label", { for: pick.id }, pick, " Select for a merge"),
      name,
      merge,
      split,
      dismiss,
    );
  }

  status.addEventListener("change", () => load());
  minSize.addEventListener("change", () => load());
  more.addEventListener("click", () => load(true));
  load();
  return () => {
    stopped = true;
  };
}
