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


def test_a_wrong_method_is_a_405_that_names_the_right_ones(client: TestClient) -> None:
    # RFC 9110: a 405 carries Allow; without it a client cannot tell a typo from a wrong verb.
    for method, route, allow in (("POST", "/api/info", "GET"), ("GET", "/api/undo", "POST"),
                                 ("DELETE", "/api/rows/3", "GET"), ("TRACE", "/api/rows", "GET, POST"),
                                 ("PUT", "/api/gaps/gap-1/fill", "POST")):
        answer = client.request(method, route)
        assert answer.status_code == 405, (method, route)
        assert answer.headers["allow"] == allow, (method, route)
        assert answer.json() == {"ok": False, "status": 405,
                                 "error": f"{method} is not allowed on {route}; use {allow}"}
    assert client.post("/api/no-such-route").status_code == 404  # an unknown path stays a 404
    assert "GET" in client.put("/").headers["allow"]  # the static UI too


def test_every_write_route_refuses_a_foreign_origin(client: TestClient, ws: amplio.Workspace) -> None:
    # Listed from the server's own schema, so a route added later is covered too.
    paths = client.get("/openapi.json").json()["paths"]
    writes = sorted((method.upper(), path) for path, item in paths.items() for method in item
                    if method in ("post", "put", "patch", "delete"))
    assert len(writes) >= 6, writes
    before = ws.rows()
    history = client.get("/api/history").json()
    for method, path in writes:
        concrete = path.replace("{row_id}", "1").replace("{gap_id}", "gap-0").replace("{job_id}", "1")
        answer = client.request(method, concrete, json={}, headers={"Origin": "https://evil.example.com"})
        assert answer.status_code == 403, (method, path, answer.status_code)
    assert ws.rows().equals(before)
    assert client.get("/api/history").json() == history


def test_every_answer_forbids_framing_and_sniffing(client: TestClient, ws: amplio.Workspace) -> None:
    expected = {"x-frame-options": "DENY", "content-security-policy": "frame-ancestors 'none'",
                "x-content-type-options": "nosniff", "referrer-policy": "no-referrer"}
    answers = [client.get("/"), client.get("/api/info"), client.get("/api/rows/999999"),
               client.post("/api/rows", json={"text": "x"}, headers={"Origin": "https://evil.example.com"})]
    with TestClient(create_app(ws), base_url="http://evil.example.com") as foreign:
        answers.append(foreign.get("/api/info"))
    assert [a.status_code for a in answers] == [200, 200, 404, 403, 403]
    for answer in answers:
        assert {k: answer.headers.get(k) for k in expected} == expected, answer.request.url
