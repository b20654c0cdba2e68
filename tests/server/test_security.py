"""The server answers only requests that name it, and refuses changes posted from other sites."""

from __future__ import annotations

from fastapi.testclient import TestClient

import amplio
from amplio.server import create_app


def test_a_foreign_host_is_refused_whatever_the_route(ws: amplio.Workspace) -> None:
    # DNS rebinding: a page on evil.example.com resolves its own name to 127.0.0.1.
    with TestClient(create_app(ws, port=8000), base_url="http://evil.example.com:8000") as client:
        for route in ("/api/info", "/api/points", "/", "/openapi.json"):
            answer = client.get(route)
            assert answer.status_code == 403, route
            assert answer.json()["ok"] is False and "--allow-host" in answer.json()["error"]
        assert client.post("/api/rows", json={"text": "planted"}).status_code == 403
    assert "planted" not in set(ws.rows()["text"])


def test_local_names_with_the_right_port_are_served(ws: amplio.Workspace) -> None:
    app = create_app(ws, port=8000)
    for base in ("http://127.0.0.1:8000", "http://localhost:8000", "http://[::1]:8000"):
        with TestClient(app, base_url=base) as client:
            assert client.get("/api/info").status_code == 200, base
    with TestClient(app, base_url="http://127.0.0.1:9999") as client:
        assert client.get("/api/info").status_code == 403  # the right name, another port
    named = create_app(ws, port=8000, allowed_hosts=["127.0.0.1", "amplio.lab"])
    with TestClient(named, base_url="http://amplio.lab:8000") as client:
        assert client.get("/api/info").status_code == 200


def test_a_change_from_another_origin_is_refused(client: TestClient, ws: amplio.Workspace) -> None:
    before = len(ws.rows())
    refused = client.post("/api/rows", json={"text": "from a forged form"},
                          headers={"Origin": "https://evil.example.com"})
    assert refused.status_code == 403 and "its own page" in refused.json()["error"]
    for route, body in (("/api/undo", None), ("/api/rows/status", {"ids": [1], "status": "rejected"}),
                        ("/api/augment", {"method": "llm", "row_id": 1, "instruction": "x"})):
        assert client.post(route, json=body, headers={"Origin": "null"}).status_code == 403, route
    assert len(ws.rows()) == before
    # Reading needs no origin check (a browser will not let the foreign page read the answer),
    # and the UI's own page, or a client with no Origin (curl, the CLI), may change things.
    assert client.get("/api/info", headers={"Origin": "https://evil.example.com"}).status_code == 200
    own = client.post("/api/rows", json={"text": "from the UI"}, headers={"Origin": "http://127.0.0.1"})
    assert own.status_code == 200
    assert client.post("/api/rows", json={"text": "from curl"}).status_code == 200


def test_a_local_token_is_required_when_asked_for(ws: amplio.Workspace) -> None:
    with TestClient(create_app(ws, token="s3cret"), base_url="http://127.0.0.1") as client:
        assert client.get("/api/info").status_code == 401
        assert client.get("/api/info", headers={"X-Amplio-Token": "s3cret"}).status_code == 200
        assert client.get("/", headers={}).status_code == 200  # the UI page holds no data


def test_errors_are_documented_with_one_envelope(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert "ErrorEnvelope" in schema["components"]["schemas"]
    for path, methods in schema["paths"].items():
        for method, spec in methods.items():
            if path.startswith("/api/"):
                assert {"400", "403", "404", "422", "500"} <= set(spec["responses"]), (method, path)
                assert "200" in spec["responses"], (method, path)
