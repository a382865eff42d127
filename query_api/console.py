"""The web console at ``/console``: static pages and scripts that call the JSON API
from the browser (submit, an analysis, history, operations).

Only routes under ``/console``, added after the API's: nothing runs on an API
request. The pages hold no data, so they are open; the API calls they make carry
the API key the user typed (kept in the tab's sessionStorage) and are checked
like any other. Every console response forbids inline script and any origin but
this one (Content-Security-Policy). Each page is its own content in the one frame of
``layout.html`` (header, navigation, API-key form), put together once at start-up.
"""

from __future__ import annotations

from pathlib import Path
from string import Template

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, RedirectResponse, Response

FILES = Path(__file__).with_name("console_files")

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
_STATIC_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}


PAGES = {
    "submit": "Submit",
    "history": "History",
    "operations": "Operations",
    "analysis": "Analysis",
}
"""Each page's content file and script (``name.html``, ``name.js``) and its title."""


def render_pages() -> dict[str, bytes]:
    """Every page: its content in the frame of ``layout.html``."""
    layout = Template((FILES / "layout.html").read_text())
    return {
        name: layout.substitute(
            title=title, page=name, content=(FILES / f"{name}.html").read_text()
        ).encode()
        for name, title in PAGES.items()
    }


def console_router() -> APIRouter:
    router = APIRouter(prefix="/console", include_in_schema=False)
    static = {p.name: p for p in FILES.iterdir() if p.suffix in _STATIC_TYPES}
    pages = render_pages()

    def _page(name: str) -> Response:
        return Response(pages[name], media_type="text/html", headers=HEADERS)

    @router.get("")
    async def root() -> RedirectResponse:
        return RedirectResponse("/console/", status_code=308)

    @router.get("/")
    async def submit_page() -> Response:
        return _page("submit")

    @router.get("/history")
    async def history_page() -> Response:
        return _page("history")

    @router.get("/operations")
    async def operations_page() -> Response:
        return _page("operations")

    @router.get("/analyses/{analysis_id}")
    async def analysis_page(analysis_id: str) -> Response:
        return _page("analysis")  # the script reads the id from the path

    @router.get("/static/{name}")
    async def static_file(name: str) -> FileResponse:
        path = static.get(name)
        if path is None:
            raise HTTPException(404, f"No console file named '{name}'.")
        return FileResponse(path, media_type=_STATIC_TYPES[path.suffix], headers=HEADERS)

    return router
