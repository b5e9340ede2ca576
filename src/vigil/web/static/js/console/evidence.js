// "Export evidence" on an alert card (console only): asks for the case reason, has the server build the
// signed archive (POST /alerts/{id}/export, audited), and saves it as a download; the dialog then names the
// export id and the manifest's sha256 for the case file.
//
// data-testid: alert-export (the button), export-done (what was saved: export-id, export-sha256)

import { ApiError, allows } from "../api.js";
import { h } from "../dom.js";
import { actionDialog } from "./dialog.js";

/** Fetches ``path`` (POST, JSON body) and returns the archive with its headers; errors as ApiError. */
async function fetchArchive(path, body) {
  let response;
  try {
    response = await fetch(path, {
      method: "POST",
      credentials: "include",
      headers: { "Content-Type": "application/json", Accept: "application/zip, application/json" },
      body: JSON.stringify(body),
    });
  } catch {
    throw new ApiError("Cannot reach the server. Check the connection and try again.", 0, null);
  }
  if (!response.ok) {
    let message = `${response.status} ${response.statusText || "request failed"}`;
    try {
      const data = await response.json();
      if (data && typeof data.error === "string") message = data.error;
    } catch {
      // not JSON: keep the status line
    }
    throw new ApiError(message, response.status, null);
  }
  const disposition = response.headers.get("Content-Disposition") || "";
  const named = /filename="([^"]+)"/.exec(disposition);
  return {
    blob: await response.blob(),
    filename: named ? named[1] : "evidence.zip",
    exportId: response.headers.get("X-Vigil-Export-Id") || "",
    sha256: response.headers.get("X-Vigil-Manifest-Sha256") || "",
  };
}

function save(blob, filename) {
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: filename, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** The export button for ``alert``'s card (operators only; null for the others). */
export function exportButton(alert, user) {
  if (!allows(user, "operator")) return null;
  const button = h(
    "button",
    { type: "button", class: "btn btn-small", "data-testid": "alert-export", title: "A signed archive for the case file" },
    "Export evidence",
  );
  const done = h("p", { class: "muted small", "data-testid": "export-done", hidden: true });
  button.addEventListener("click", async () => {
    const saved = await actionDialog({
      title: "Export this alert as evidence",
      message:
        "A signed archive: the best shots, the enrolled photos, times, camera, scores, the threshold and model, " +
        "the reviews and the audit rows. The export is recorded in the audit log with your reason.",
      confirmLabel: "Export",
      danger: false,
      reasonLabel: "Case reference or reason (kept in the audit log)",
      run: async (reason) => {
        const archive = await fetchArchive(`/alerts/${encodeURIComponent(alert.id)}/export`, { reason });
        save(archive.blob, archive.filename);
        return archive;
      },
    });
    if (saved && saved !== true) {
      done.hidden = false;
      done.replaceChildren(
        `Saved ${saved.filename}: export `,
        h("code", { "data-testid": "export-id" }, saved.exportId),
        ", manifest sha256 ",
        h("code", { "data-testid": "export-sha256" }, saved.sha256),
      );
    }
    button.focus();
  });
  return h("div", { class: "alert-export" }, button, done);
}
