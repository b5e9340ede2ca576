// Modal dialogs (<dialog>, never window.confirm) that ask for a reason and run the action themselves,
// so a server error is shown inside the dialog, next to the button that failed.
//
// data-testid: dialog, dialog-title, dialog-reason, dialog-confirm, dialog-cancel, dialog-error

import { errorBox, h, showError } from "../dom.js";

let counter = 0;

/** Opens a dialog; resolves to the value `run` returned, or null when cancelled.
 *
 * options: {title, message (text or node), confirmLabel, danger (default true), reasonLabel,
 *           reasonRequired (default true), fields (extra nodes placed before the reason),
 *           run: async (reason) => value} */
export function actionDialog(options) {
  const {
    title,
    message,
    confirmLabel = "Confirm",
    danger = true,
    reasonLabel = "Reason (kept in the audit log)",
    reasonRequired = true,
    fields = null,
    run,
  } = options;
  counter += 1;
  const id = `dlg-${counter}`;
  const reason = h("textarea", {
    id: `${id}-reason`,
    name: "reason",
    rows: "3",
    maxlength: "500",
    required: reasonRequired,
    "data-testid": "dialog-reason",
  });
  const confirm = h(
    "button",
    { type: "submit", class: ["btn", danger ? "btn-danger-solid" : "btn-primary"], "data-testid": "dialog-confirm" },
    confirmLabel,
  );
  const cancel = h("button", { type: "button", class: "btn", "data-testid": "dialog-cancel" }, "Cancel");
  const error = errorBox("dialog-error");
  const form = h(
    "form",
    { method: "dialog" },
    h("h2", { id: `${id}-title`, "data-testid": "dialog-title" }, title),
    message ? (message instanceof Node ? message : h("p", null, message)) : null,
    fields,
    h(
      "div",
      { class: "field" },
      h("label", { for: `${id}-reason` }, reasonLabel, reasonRequired ? null : h("span", { class: "muted" }, " (optional)")),
      reason,
    ),
    error,
    h("div", { class: "form-actions" }, cancel, confirm),
  );
  const dialog = h("dialog", { "aria-labelledby": `${id}-title`, "data-testid": "dialog" }, form);
  document.body.append(dialog);

  return new Promise((resolve) => {
    let result = null;
    let running = false;
    const close = () => dialog.close();
    cancel.addEventListener("click", close);
    dialog.addEventListener("cancel", (event) => {
      if (running) event.preventDefault();
    });
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(result);
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (reasonRequired && !reason.value.trim()) {
        showError(error, new Error("Please give a reason."));
        reason.focus();
        return;
      }
      showError(error, null);
      running = true;
      confirm.disabled = cancel.disabled = true;
      confirm.setAttribute("aria-busy", "true");
      try {
        result = (await run(reason.value.trim())) ?? true;
        close();
      } catch (e) {
        showError(error, e);
      } finally {
        running = false;
        confirm.disabled = cancel.disabled = false;
        confirm.removeAttribute("aria-busy");
      }
    });
    dialog.showModal();
    (form.querySelector("input, select, textarea") || reason).focus();
  });
}
