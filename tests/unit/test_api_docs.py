"""The OpenAPI docs at ``/docs`` are served from the package (no CDN): the page names only this origin's
assets, and its Content-Security-Policy would block anything else. (The page in a real browser:
tests/e2e/test_offline.py.)"""

from __future__ import annotations

import re

from tests.api_kit import Api


def test_docs_load_swagger_ui_from_this_server_only(api: Api) -> None:
    page = api.client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']|url:\s*["']([^"']+)["']""", page.text)
    found = [a or b for a, b in urls]
    assert "/static/swagger-ui/swagger-ui-bundle.js" in found and "/openapi.json" in found
    assert [u for u in found if not u.startswith("/")] == [], "every URL on the page is on this origin"
    assert "validatorUrl" in page.text and '"validatorUrl": null' in page.text
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "connect-src 'self'" in csp and "frame-ancestors 'none'" in csp
    for asset, kind in (("swagger-ui-bundle.js", "javascript"), ("swagger-ui.css", "text/css")):
        got = api.client.get(f"/static/swagger-ui/{asset}")
        assert got.status_code == 200 and kind in got.headers["content-type"] and len(got.content) > 100_000
    assert "Apache License" in api.client.get("/static/swagger-ui/LICENSE").text
