"""The console stays off the API's hot path: its routes come after every API
route (an API request never tries to match them), it adds no middleware, and
every file it serves carries the Content-Security-Policy."""

from __future__ import annotations

import re

from starlette.routing import Route

from entrypoints.app import build_app
from infra.settings import Settings
from query_api.console import CONTENT_SECURITY_POLICY, PAGES, render_pages


def paths(sides: tuple[str, ...]) -> list[str]:
    """The app's route paths in the order a request tries them (FastAPI keeps an
    included router as one entry that holds its routes)."""
    app = build_app(Settings(), sides)  # type: ignore[arg-type]
    found: list[str] = []
    for route in app.router.routes:
        included = getattr(route, "original_router", None)
        for inner in included.routes if included is not None else [route]:
            if isinstance(inner, Route):
                found.append(inner.path)
    return found


def test_console_routes_come_after_every_api_route_and_add_no_middleware() -> None:
    routes = paths(("command", "query"))
    console = [i for i, p in enumerate(routes) if p.startswith("/console")]
    api = [i for i, p in enumerate(routes) if p.startswith("/api/")]
    assert console
    assert api
    assert min(console) > max(api)
    without = build_app(Settings(), ("command",))
    with_console = build_app(Settings(), ("command", "query"))
    assert [m.cls for m in with_console.user_middleware] == [m.cls for m in without.user_middleware]


def test_the_console_is_served_with_the_query_side_only() -> None:
    assert not any(p.startswith("/console") for p in paths(("command",)))
    assert any(p.startswith("/console") for p in paths(("query",)))


def test_the_policy_allows_no_inline_script_and_no_other_origin() -> None:
    directives = dict(d.strip().split(" ", 1) for d in CONTENT_SECURITY_POLICY.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    pages = render_pages()
    assert set(pages) == set(PAGES)
    for name, rendered in pages.items():
        page = rendered.decode()
        assert "$" not in page, "every placeholder of the layout filled"
        assert f'src="/console/static/{name}.js"' in page
        assert page.rstrip().endswith("</html>")
        assert "<script>" not in page
        assert " style=" not in page
        assert not re.search(r"\son[a-z]+=", page), "no inline event handlers"
