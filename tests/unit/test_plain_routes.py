"""Plain Starlette routes beside FastAPI's: validated by their models, errors
answered by the app's problem handlers, documented from the same models."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from pydantic import BaseModel, Field

from http_edge import plain_routes, problems
from http_edge.plain_routes import PlainRoute, header, json_body, json_response, query_model
from http_edge.problems import problem_response


class Item(BaseModel):
    name: str = Field(min_length=1)
    size: int = Field(default=1, ge=1)


class Listing(BaseModel):
    limit: int = Field(default=10, ge=1, le=50, description="Items per page.")


class Created(BaseModel):
    name: str
    tag: str | None
    route: str


async def create(request: Request) -> Response:
    """Create an item."""
    tag = header(request, "X-Tag", max_length=5)
    item = await json_body(request, Item)
    route = request.scope["route"].path
    return json_response(Created(name=item.name, tag=tag, route=route), 201, {"Location": "/x"})


async def listing(request: Request) -> Response:
    """List items."""
    return json_response(query_model(request, Listing))


def _app() -> FastAPI:
    app = FastAPI()
    problems.install(app)
    routes = [
        PlainRoute(
            "POST", "/items", create, summary="Create", tags=["t"], response_model=Created,
            status_code=201, body=Item,
            responses={409: problem_response("Taken.", "Item 'a' exists.")},
        ),
        PlainRoute("GET", "/items", listing, summary="List", tags=["t"], response_model=Listing,
                   query=Listing),
    ]  # fmt: skip
    plain_routes.mount(app, routes, security=[{"HTTPBearer": []}])
    return app


@pytest.fixture
async def client() -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=_app())
    return httpx.AsyncClient(transport=transport, base_url="http://t")


async def test_a_valid_request_is_answered_by_the_route(client: httpx.AsyncClient) -> None:
    response = await client.post("/items", json={"name": "a"}, headers={"X-Tag": "red"})
    assert response.status_code == 201
    assert response.headers["location"] == "/x"
    assert response.json() == {"name": "a", "tag": "red", "route": "/items"}
    assert (await client.get("/items", params={"limit": 3})).json() == {"limit": 3}


@pytest.mark.parametrize(
    ("kwargs", "status", "field"),
    [
        ({"json": {"name": "a", "size": 0}}, 422, "size"),
        ({"json": {"size": 2}}, 400, "name"),
        ({"json": [1]}, 400, "body"),
        ({"content": b""}, 400, "body"),
        ({"json": {"name": "a"}, "headers": {"X-Tag": "too-long"}}, 400, "X-Tag"),
    ],
)
async def test_bad_input_is_a_problem_naming_the_field(
    client: httpx.AsyncClient, kwargs: dict[str, object], status: int, field: str
) -> None:
    response = await client.post("/items", **kwargs)  # type: ignore[arg-type]
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == [field]


async def test_malformed_json_and_bad_query_parameters_answer_400(
    client: httpx.AsyncClient,
) -> None:
    malformed = await client.post(
        "/items", content=b"{", headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 400
    assert "not valid JSON" in malformed.json()["detail"]
    bad = await client.get("/items", params={"limit": 99})
    assert bad.status_code == 400
    assert [e["field"] for e in bad.json()["errors"]] == ["limit"]


def test_the_openapi_operations_come_from_the_models() -> None:
    document = _app().openapi()
    post = document["paths"]["/items"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Item"
    }
    assert post["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Created"
    }
    assert post["description"] == "Create an item."
    assert post["security"] == [{"HTTPBearer": []}]
    taken = post["responses"]["409"]["content"]["application/problem+json"]
    assert taken["schema"] == {"$ref": "#/components/schemas/ProblemDetails"}
    assert taken["example"]["status"] == 409
    assert document["components"]["schemas"]["Item"]["required"] == ["name"]
    [limit] = document["paths"]["/items"]["get"]["parameters"]
    assert limit["name"] == "limit"
    assert limit["in"] == "query"
    assert limit["schema"]["maximum"] == 50
