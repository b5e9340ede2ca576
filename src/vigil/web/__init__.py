"""The web front end: static files only (no build step), served by the API app.

``STATIC`` holds the operator console (``index.html``, served at ``/``), the officer's mobile alert view
(``mobile.html``, at ``/m``), their ES modules under ``js/``, the stylesheets under ``css/``, the icons, the
web app manifest and the mobile view's service worker (``sw.js``, served at ``/sw.js``).
"""

from __future__ import annotations

from pathlib import Path

STATIC: Path = Path(__file__).parent / "static"
