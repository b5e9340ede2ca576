// The sign-in form, shared by the console and the mobile view.
//
// data-testid: signin-form, signin-username, signin-password, signin-submit, signin-error,
//              signin-message

import { signIn } from "./api.js";
import { errorBox, h, showError } from "./dom.js";
import { unlock } from "./sound.js";

/** A sign-in panel; calls `onSignedIn(user)` after a successful sign-in (awaited). */
export function signInPanel({ subtitle, message, onSignedIn }) {
  const username = h("input", {
    id: "signin-username",
    name: "username",
    type: "text",
    autocomplete: "username",
    autocapitalize: "none",
    spellcheck: "false",
    required: true,
    "data-testid": "signin-username",
  });
  const password = h("input", {
    id: "signin-password",
    name: "password",
    type: "password",
    autocomplete: "current-password",
    required: true,
    "data-testid": "signin-password",
  });
  const submit = h("button", { type: "submit", class: "btn btn-primary", "data-testid": "signin-submit" }, "Sign in");
  const error = errorBox("signin-error");
  const form = h(
    "form",
    { class: "form", "data-testid": "signin-form", "aria-labelledby": "signin-title" },
    h("div", { class: "field" }, h("label", { for: "signin-username" }, "User name"), username),
    h("div", { class: "field" }, h("label", { for: "signin-password" }, "Password"), password),
    error,
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    unlock(); // a user gesture: alert sounds may play from now on
    showError(error, null);
    submit.disabled = true;
    submit.textContent = "Signing in…";
    try {
      const user = await signIn(username.value.trim(), password.value);
      password.value = "";
      await onSignedIn(user);
    } catch (e) {
      showError(error, e);
      submit.disabled = false;
      submit.textContent = "Sign in";
      password.select();
      password.focus();
    }
  });
  const panel = h(
    "section",
    { class: "signin", "aria-labelledby": "signin-title" },
    h(
      "div",
      { class: "signin-brand" },
      h("img", { src: "/static/icons/icon.svg", alt: "", width: "44", height: "44" }),
      h("div", null, h("h1", { id: "signin-title" }, "Vigil"), h("p", null, subtitle)),
    ),
    message ? h("p", { class: "notice", role: "status", "data-testid": "signin-message" }, message) : null,
    form,
  );
  return { panel, focus: () => username.focus() };
}
