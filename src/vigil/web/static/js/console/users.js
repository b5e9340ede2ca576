// The users screen (admins only): everyone's role and state, creating a user (a generated password is
// shown once), and changing a user's role, disabled flag, the lists whose alerts they get on /m, and their
// scope: the lists and cameras they are limited to (enforced by the API; admins are never limited).
//
// data-testid:
//   screen-title, users-error, users-table, user-row (data-username, data-role, data-disabled),
//   user-edit, user-toggle, user-error, user-form, user-username-input, user-role-input,
//   user-password-input, user-reason-input, user-submit, user-form-error, user-created,
//   user-generated-password, user-edit-role, user-edit-disabled, user-edit-list (data-name),
//   user-scope, user-edit-scope-list (data-name), user-edit-scope-camera (data-name)
//   (the edit dialog: see dialog.js)

import { api } from "../api.js";
import { absolute, busy, errorBox, h, showError } from "../dom.js";
import { actionDialog } from "./dialog.js";

const ROLES = ["viewer", "operator", "admin"];

export function mount(root, ctx) {
  const error = errorBox("users-error");
  const tbody = h("tbody");
  const table = h(
    "table",
    { class: "table users-table", "data-testid": "users-table" },
    h("caption", { class: "visually-hidden" }, "Users"),
    h("thead", null, h("tr", null, ["User", "Role", "State", "Alert lists (mobile)", "Scope", "Created", "Actions"].map((t) => h("th", { scope: "col" }, t)))),
    tbody,
  );
  root.append(
    h("div", { class: "screen-head" }, h("h1", { "data-testid": "screen-title" }, "Users")),
    error,
    h("div", { class: "table-wrap" }, table),
    createForm(() => load()),
  );

  let stopped = false;
  let lists = [];
  let cameras = [];

  async function load(focusUser) {
    try {
      const [users, wls, cams] = await Promise.all([
        api("GET", "/users"),
        api("GET", "/watchlists").catch(() => lists),
        api("GET", "/cameras?include_footage=true").catch(() => cameras),
      ]);
      if (stopped) return;
      lists = wls;
      cameras = cams;
      showError(error, null);
      tbody.replaceChildren(...users.map(userRow));
      if (focusUser) tbody.querySelector(`[data-username="${CSS.escape(focusUser)}"] [data-testid="user-edit"]`)?.focus();
    } catch (e) {
      if (!stopped) showError(error, e);
    }
  }

  function userRow(user) {
    const isMe = user.username === ctx.user.username;
    const rowError = errorBox("user-error");
    const edit = h("button", { type: "button", class: "btn btn-small", "data-testid": "user-edit", "aria-label": `Edit ${user.username}` }, "Edit");
    const toggle = h(
      "button",
      { type: "button", class: ["btn", "btn-small", user.disabled ? null : "btn-danger"], "data-testid": "user-toggle", "aria-label": `${user.disabled ? "Enable" : "Disable"} ${user.username}` },
      user.disabled ? "Enable" : "Disable",
    );
    const assigned = user.watchlists || [];
    const scopeLists = user.lists || [];
    const scopeCameras = user.cameras || [];
    const row = h(
      "tr",
      { "data-testid": "user-row", dataset: { username: user.username, role: user.role, disabled: String(Boolean(user.disabled)) }, class: user.disabled ? "is-disabled" : null },
      h("td", { "data-label": "User" }, h("span", null, h("strong", null, user.username), isMe ? h("span", { class: "muted small" }, " (you)") : null)),
      h("td", { "data-label": "Role" }, h("span", { class: ["badge", "role-badge", `role-${user.role}`] }, user.role)),
      h("td", { "data-label": "State" }, user.disabled ? h("span", { class: "badge" }, "disabled") : h("span", { class: "badge status-confirmed" }, "active")),
      h("td", { "data-label": "Alert lists (mobile)" }, assigned.length ? h("div", { class: "chips" }, assigned.map((n) => h("span", { class: "list-chip" }, n))) : h("span", { class: "muted", title: "No lists assigned: the mobile view shows alerts from every list" }, "all lists")),
      h("td", { "data-label": "Scope", "data-testid": "user-scope" }, scopeCell(user, scopeLists, scopeCameras)),
      h("td", { "data-label": "Created" }, user.created_at ? h("span", { title: absolute(user.created_at) }, new Date(user.created_at).toLocaleDateString()) : "—"),
      h("td", { "data-label": "Actions", class: "cell-actions" }, h("div", { class: "row-actions" }, edit, toggle), rowError),
    );

    edit.addEventListener("click", async () => {
      showError(rowError, null);
      const role = h("select", { id: `ue-role-${user.id}`, "data-testid": "user-edit-role" }, ROLES.map((r) => h("option", { value: r, selected: r === user.role }, r)));
      const disabled = h("input", { id: `ue-disabled-${user.id}`, type: "checkbox", checked: Boolean(user.disabled), "data-testid": "user-edit-disabled" });
      const boxes = lists.map((l) =>
        h("input", { type: "checkbox", value: l.name, checked: assigned.includes(l.name), "data-testid": "user-edit-list", dataset: { name: l.name } }),
      );
      const scopeBoxes = lists.map((l) =>
        h("input", { type: "checkbox", value: l.name, checked: scopeLists.includes(l.name), "data-testid": "user-edit-scope-list", dataset: { name: l.name } }),
      );
      const cameraBoxes = cameras.map((c) =>
        h("input", { type: "checkbox", value: c.name, checked: scopeCameras.includes(c.name), "data-testid": "user-edit-scope-camera", dataset: { name: c.name } }),
      );
      const fields = h(
        "div",
        { class: "form" },
        h("div", { class: "field" }, h("label", { for: `ue-role-${user.id}` }, "Role"), role),
        h("label", { class: "check", for: `ue-disabled-${user.id}` }, disabled, "Disabled (cannot sign in; sessions end)"),
        h(
          "fieldset",
          null,
          h("legend", null, "Alerts on the mobile view from these lists"),
          h("p", { class: "hint" }, "None ticked: alerts from every list."),
          lists.length
            ? h("div", { class: "check-list" }, lists.map((l, i) => h("label", { class: "check" }, boxes[i], l.name)))
            : h("p", { class: "muted small" }, "There are no watchlists yet."),
        ),
        h(
          "fieldset",
          null,
          h("legend", null, "Limited to these lists"),
          h("p", { class: "hint" }, "None ticked: every list. They see and act on these lists' people and alerts only (admins are never limited)."),
          lists.length
            ? h("div", { class: "check-list" }, lists.map((l, i) => h("label", { class: "check" }, scopeBoxes[i], l.name)))
            : h("p", { class: "muted small" }, "There are no watchlists yet."),
        ),
        h(
          "fieldset",
          null,
          h("legend", null, "Limited to these cameras"),
          h("p", { class: "hint" }, "None ticked: every camera. They see these cameras' status, events and alerts only."),
          cameras.length
            ? h("div", { class: "check-list" }, cameras.map((c, i) => h("label", { class: "check" }, cameraBoxes[i], c.name)))
            : h("p", { class: "muted small" }, "There are no cameras yet."),
        ),
      );
      const saved = await actionDialog({
        title: `Edit ${user.username}`,
        fields,
        confirmLabel: "Save changes",
        danger: false,
        run: async (reason) => {
          const body = { reason };
          if (role.value !== user.role) body.role = role.value;
          if (disabled.checked !== Boolean(user.disabled)) body.disabled = disabled.checked;
          const chosen = boxes.filter((b) => b.checked).map((b) => b.value);
          const before = [...assigned].sort().join("\n");
          if (chosen.slice().sort().join("\n") !== before) body.watchlists = chosen;
          const changed = (boxesOf, was) => {
            const now = boxesOf.filter((b) => b.checked).map((b) => b.value);
            return now.slice().sort().join("\n") !== [...was].sort().join("\n") ? now : null;
          };
          const newLists = changed(scopeBoxes, scopeLists);
          const newCameras = changed(cameraBoxes, scopeCameras);
          if (newLists) body.lists = newLists;
          if (newCameras) body.cameras = newCameras;
          if (Object.keys(body).length === 1) throw new Error("Nothing was changed.");
          return api("PATCH", `/users/${encodeURIComponent(user.username)}`, body);
        },
      });
      if (saved) {
        ctx.announce(`${user.username} updated`);
        await load(user.username);
      } else {
        edit.focus();
      }
    });

    toggle.addEventListener("click", async () => {
      showError(rowError, null);
      const disabling = !user.disabled;
      const done = await actionDialog({
        title: `${disabling ? "Disable" : "Enable"} ${user.username}?`,
        message: disabling ? "They are signed out everywhere and cannot sign in until enabled again." : "They can sign in again.",
        confirmLabel: disabling ? "Disable user" : "Enable user",
        danger: disabling,
        run: (reason) => api("PATCH", `/users/${encodeURIComponent(user.username)}`, { disabled: disabling, reason }),
      });
      if (done) await load(user.username);
      else toggle.focus();
    });
    return row;
  }

  load();
  return () => {
    stopped = true;
  };
}

function scopeCell(user, lists, cameras) {
  if (user.role === "admin") return h("span", { class: "muted", title: "Administrators are never limited" }, "everything");
  if (!lists.length && !cameras.length) return h("span", { class: "muted", title: "Not limited to lists or cameras" }, "everything");
  const chips = (names, label) =>
    names.length ? h("div", { class: "chips", "aria-label": label }, names.map((n) => h("span", { class: "list-chip" }, n))) : h("span", { class: "muted small" }, `every ${label.slice(0, -1)}`);
  return h("div", null, chips(lists, "lists"), chips(cameras, "cameras"));
}

function createForm(onCreated) {
  const username = h("input", {
    id: "nu-username",
    type: "text",
    required: true,
    maxlength: "64",
    pattern: "[a-z0-9._\\-]{1,64}",
    autocomplete: "off",
    autocapitalize: "none",
    spellcheck: "false",
    "aria-describedby": "nu-username-hint",
    "data-testid": "user-username-input",
  });
  const role = h("select", { id: "nu-role", "data-testid": "user-role-input" }, ROLES.map((r) => h("option", { value: r, selected: r === "operator" }, r)));
  const password = h("input", {
    id: "nu-password",
    type: "password",
    minlength: "12",
    autocomplete: "new-password",
    "aria-describedby": "nu-password-hint",
    "data-testid": "user-password-input",
  });
  const reason = h("input", { id: "nu-reason", type: "text", required: true, maxlength: "500", "data-testid": "user-reason-input" });
  const submit = h("button", { type: "submit", class: "btn btn-primary", "data-testid": "user-submit" }, "Create user");
  const error = errorBox("user-form-error");
  const created = h("div", { "data-testid": "user-created", "aria-live": "polite" });
  const form = h(
    "form",
    { class: "form form-grid", "data-testid": "user-form", "aria-labelledby": "nu-title" },
    h("div", { class: "field" }, h("label", { for: "nu-username" }, "User name"), username, h("span", { id: "nu-username-hint", class: "hint" }, "Lowercase letters, digits, . - _")),
    h("div", { class: "field" }, h("label", { for: "nu-role" }, "Role"), role),
    h(
      "div",
      { class: "field" },
      h("label", { for: "nu-password" }, "Password ", h("span", { class: "muted" }, "(optional)")),
      password,
      h("span", { id: "nu-password-hint", class: "hint" }, "At least 12 characters; leave blank to generate one"),
    ),
    h("div", { class: "field" }, h("label", { for: "nu-reason" }, "Reason (audit log)"), reason),
    h("div", { class: "form-actions span-all" }, submit),
    h("div", { class: "span-all" }, error, created),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    showError(error, null);
    created.replaceChildren();
    busy(submit, async () => {
      try {
        const body = { username: username.value.trim(), role: role.value, reason: reason.value.trim() };
        if (password.value) body.password = password.value;
        const answer = await api("POST", "/users", body);
        form.reset();
        created.replaceChildren(
          h(
            "div",
            { class: "notice", role: "status" },
            h("p", null, `Created ${answer.user.username} (${answer.user.role}).`),
            answer.password
              ? [
                  h("p", null, "Their password, shown only now — hand it over securely:"),
                  h("p", null, h("code", { class: "secret", "data-testid": "user-generated-password", tabindex: "0" }, answer.password)),
                ]
              : null,
          ),
        );
        onCreated();
      } catch (e) {
        showError(error, e);
      }
    });
  });
  return h("section", { class: "panel" }, h("h2", { id: "nu-title" }, "Create a user"), form);
}
