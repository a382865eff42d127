"""The web console at ``/console``: static pages and scripts that call the JSON API
from the browser (submit, an analysis, history, operations).

Only routes under ``/console``, added after the API's: nothing runs on an API
request. The pages hold no data, so they are open; the API calls they make carry
the API key the user typed (kept in the tab's sessionStorage) and are checked
like any other. Every console response forbids inline script and any origin but
this one (Content-Security-Policy).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, RedirectResponse

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


def _page(name: str) -> FileResponse:
    return FileResponse(FILES / name, media_type="text/html", headers=HEADERS)


def console_router() -> APIRouter:
    router = APIRouter(prefix="/console", include_in_schema=False)
    static = {p.name: p for p in FILES.iterdir() if p.suffix in _STATIC_TYPES}

    @router.get("")
    async def root() -> RedirectResponse:
        return RedirectResponse("/console/", status_code=308)

    @router.get("/")
    async def submit_page() -> FileResponse:
        return _page("submit.html")

    @router.get("/history")
    async def history_page() -> FileResponse:
        return _page("history.html")

    @router.get("/operations")
    async def operations_page() -> FileResponse:
        return _page("operations.html")

    @router.get("/analyses/{analysis_id}")
    async def analysis_page(analysis_id: str) -> FileResponse:
        return _page("analysis.html")  # the script reads the id from the path

    @router.get("/static/{name}")
    async def static_file(name: str) -> FileResponse:
        path = static.get(name)
        if path is None:
            raise HTTPException(404, f"No console file named '{name}'.")
        return FileResponse(path, media_type=_STATIC_TYPES[path.suffix], headers=HEADERS)

    return router
