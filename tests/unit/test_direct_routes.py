"""DirectRoutes answers the hot routes as FastAPI would, and leaves the rest to it."""

from __future__ import annotations

import re
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Request, Response
from fastapi.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from http_edge.direct_routes import DirectRoutes


class Refused(Exception):
    """An error the app answers with a handler of its own."""


def _router() -> APIRouter:
    router = APIRouter(prefix="/api")

    @router.get("/items/{item_id}")
    async def item(item_id: str, request: Request) -> Response:
        if item_id == "missing":
            raise HTTPException(404, f"No item {item_id}.")
        if item_id == "refused":
            raise Refused(item_id)
        if item_id == "broken":
            raise RuntimeError("boom")
        route = request.scope["route"].path
        return JSONResponse({"id": item_id, "route": route, "params": request.path_params})

    @router.post("/items")
    async def create(request: Request) -> Response:
        return JSONResponse({"created": (await request.json())["name"]}, status_code=202)

    @router.get("/items")
    async def listing(request: Request, limit: int = 10) -> Response:
        return JSONResponse({"limit": limit})

    return router


def _app(*, direct: bool) -> FastAPI:
    router = _router()
    app = FastAPI()

    @app.exception_handler(404)
    async def not_found(request: Request, exc: Exception) -> Response:
        return JSONResponse({"problem": "not found", "detail": str(exc)}, status_code=404)

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Exception) -> Response:
        return JSONResponse({"problem": "refused", "detail": str(exc)}, status_code=409)

    if direct:
        app.add_middleware(
            DirectRoutes,
            owner=app,
            routers=[router],
            routes=[("GET", "/api/items/{item_id}"), ("POST", "/api/items")],
        )
    app.include_router(router)
    return app


async def _ask(app: Any, method: str, path: str, **kwargs: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.request(method, path, **kwargs)


CASES = [
    ("GET", "/api/items/abc", {}),
    ("GET", "/api/items/a%20b", {}),
    ("GET", "/api/items/missing", {}),
    ("GET", "/api/items/refused", {}),
    ("GET", "/api/items/broken", {}),
    ("POST", "/api/items", {"json": {"name": "x"}}),
    ("GET", "/api/items/abc/", {}),
    ("GET", "/api/items/abc/more", {}),
    ("HEAD", "/api/items/abc", {}),
    ("DELETE", "/api/items/abc", {}),
    ("GET", "/api/items", {"params": {"limit": "3"}}),
    ("GET", "/api/items/", {}),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("method", "path", "kwargs"), CASES)
async def test_given_any_request_then_the_answer_equals_fastapis(
    method: str, path: str, kwargs: dict[str, Any]
) -> None:
    expected = await _ask(_app(direct=False), method, path, **kwargs)
    answer = await _ask(_app(direct=True), method, path, **kwargs)

    assert (answer.status_code, answer.content) == (expected.status_code, expected.content)
    assert answer.headers.get("content-type") == expected.headers.get("content-type")
    assert answer.headers.get("location") == expected.headers.get("location")


async def _fallen_through(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 418, "headers": []})
    await send({"type": "http.response.body", "body": b"fell through"})


def _direct_only() -> DirectRoutes:
    return DirectRoutes(
        _fallen_through,
        owner=FastAPI(),
        routers=[_router()],
        routes=[("GET", "/api/items/{item_id}"), ("POST", "/api/items")],
    )


@pytest.mark.asyncio
async def test_given_a_hot_route_then_its_endpoint_answers_with_the_route_recorded() -> None:
    answer = await _ask(_direct_only(), "GET", "/api/items/abc")

    assert answer.status_code == 200
    assert answer.json() == {
        "id": "abc",
        "route": "/api/items/{item_id}",
        "params": {"item_id": "abc"},
    }


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/items/abc/"),
        ("GET", "/api/items/abc/more"),
        ("GET", "/api/items/"),
        ("GET", "/api/items"),
        ("HEAD", "/api/items/abc"),
        ("PUT", "/api/items/abc"),
        ("GET", "/api/itemsabc"),
    ],
)
async def test_given_anything_not_exactly_a_hot_route_then_fastapi_answers(
    method: str, path: str
) -> None:
    answer = await _ask(_direct_only(), method, path)

    assert answer.status_code == 418


def _assert_refused(router: APIRouter, method: str, template: str, because: str) -> None:
    with pytest.raises(ValueError, match=re.escape(because)):
        DirectRoutes(
            _fallen_through, owner=FastAPI(), routers=[router], routes=[(method, template)]
        )


async def _tenant() -> str:
    return "t"


def test_given_a_route_with_dependencies_then_it_is_refused_at_start_up() -> None:
    router = APIRouter()

    @router.get("/a/{x}")
    async def a(x: str, request: Request, tenant: Annotated[str, Depends(_tenant)]) -> Response:
        return Response()

    _assert_refused(router, "GET", "/a/{x}", "dependencies")


def test_given_a_router_with_dependencies_then_its_routes_are_refused() -> None:
    router = APIRouter(dependencies=[Depends(_tenant)])

    @router.get("/a/{x}")
    async def a(x: str, request: Request) -> Response:
        return Response()

    _assert_refused(router, "GET", "/a/{x}", "dependencies")


def test_given_a_route_with_query_parameters_then_it_is_refused() -> None:
    _assert_refused(_router(), "GET", "/api/items", "parameters")


@pytest.mark.asyncio
async def test_given_a_direct_endpoint_then_it_answers_for_a_route_with_parameters() -> None:
    async def listing(request: Request) -> Response:
        return JSONResponse({"limit": int(request.query_params.get("limit", 10)), "direct": True})

    routes = DirectRoutes(
        _fallen_through,
        owner=FastAPI(),
        routers=[_router()],
        routes=[("GET", "/api/items", listing)],
    )
    answer = await _ask(routes, "GET", "/api/items", params={"limit": "3"})

    assert answer.json() == {"limit": 3, "direct": True}


def test_given_a_direct_endpoint_with_other_parameters_then_it_is_refused() -> None:
    async def listing(request: Request, limit: int) -> Response:
        return Response()

    def blocking(request: Request) -> Response:
        return Response()

    for endpoint, because in ((listing, "takes `request`"), (blocking, "coroutine")):
        with pytest.raises(ValueError, match=re.escape(because)):
            DirectRoutes(
                _fallen_through,
                owner=FastAPI(),
                routers=[_router()],
                routes=[("GET", "/api/items", endpoint)],  # type: ignore[list-item]
            )


def test_given_a_validated_path_parameter_then_it_is_refused() -> None:
    router = APIRouter()

    @router.get("/n/{n}")
    async def typed(n: int, request: Request) -> Response:
        return Response()

    @router.get("/s/{s}")
    async def constrained(s: Annotated[str, Path(max_length=3)], request: Request) -> Response:
        return Response()

    _assert_refused(router, "GET", "/n/{n}", "'n' needs validating")
    _assert_refused(router, "GET", "/s/{s}", "'s' needs validating")


def test_given_a_sync_endpoint_or_other_parameters_then_it_is_refused() -> None:
    router = APIRouter()

    @router.get("/sync")
    def sync(request: Request) -> Response:
        return Response()

    @router.get("/resp")
    async def with_response(request: Request, response: Response) -> Response:
        return Response()

    _assert_refused(router, "GET", "/sync", "coroutine")
    _assert_refused(router, "GET", "/resp", "only `request`")


def test_given_a_route_not_declared_then_it_is_refused() -> None:
    _assert_refused(_router(), "DELETE", "/api/items/{item_id}", "not a route")
    _assert_refused(_router(), "GET", "/api/elsewhere", "not a route")


def test_given_two_path_parameters_then_it_is_refused() -> None:
    router = APIRouter()

    @router.get("/a/{x}/b/{y}")
    async def two(x: str, y: str, request: Request) -> Response:
        return Response()

    _assert_refused(router, "GET", "/a/{x}/b/{y}", "one trailing path parameter")


@pytest.mark.asyncio
async def test_given_an_endpoint_returning_no_response_then_500_not_a_silent_body() -> None:
    router = APIRouter()

    @router.get("/plain/{x}")
    async def plain(x: str, request: Request) -> Any:
        return {"x": x}

    app = FastAPI()
    app.add_middleware(DirectRoutes, owner=app, routers=[router], routes=[("GET", "/plain/{x}")])
    app.include_router(router)

    answer = await _ask(app, "GET", "/plain/1")

    assert answer.status_code == 500
