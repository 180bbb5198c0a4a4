"""The emulator over real HTTP (uvicorn on a thread): serving, admin routes, socket-level faults."""

from __future__ import annotations

import httpx
import pytest

from class_source.emulator import Emulator


@pytest.fixture(scope="module")
def served():
    emu = Emulator(seed=7, classes=20)
    with emu.serve() as base_url:
        yield emu, base_url


def test_get_classes_over_real_http(served) -> None:
    emu, base_url = served
    assert base_url.startswith("http://127.0.0.1:")
    secret = emu.mint_key(scopes=["class:read"])
    response = httpx.get(f"{base_url}/api/v1/classes", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    assert response.json() == emu.school.list_classes(False) and len(response.json()) == 19
    assert httpx.get(f"{base_url}/api/v1/users", headers={"Authorization": f"Bearer {secret}"}).status_code == 403


def test_admin_clock_route(served) -> None:
    emu, base_url = served
    now = emu.clock.now
    assert httpx.get(f"{base_url}/_emulator/clock").json()["now"] == now
    assert httpx.post(f"{base_url}/_emulator/clock", json={"advance": 3600}).json()["now"] == now + 3600
    assert emu.clock.now == now + 3600
    assert httpx.post(f"{base_url}/_emulator/clock", json={"now": now}).json()["now"] == now
    for bad in ({}, {"now": 1, "advance": 2}, {"now": "soon"}):
        assert httpx.post(f"{base_url}/_emulator/clock", json=bad).status_code == 400


def test_admin_keys_and_faults_routes(served) -> None:
    emu, base_url = served
    minted = httpx.post(f"{base_url}/_emulator/keys", json={"scopes": ["template:read"]})
    assert minted.status_code == 201
    headers = {"Authorization": f"Bearer {minted.json()['secret']}"}
    assert httpx.get(f"{base_url}/api/v1/templates", headers=headers).status_code == 200
    assert httpx.post(f"{base_url}/_emulator/keys", json={"scopes": ["root"]}).status_code == 400
    try:
        assert httpx.post(f"{base_url}/_emulator/faults", json={"rate": 1.0, "kinds": {"503": 1}}).json()["rate"] == 1.0
        assert httpx.get(f"{base_url}/api/v1/templates", headers=headers).status_code == 503
        assert httpx.post(f"{base_url}/_emulator/faults", json={"rate": 3}).status_code == 400
    finally:
        httpx.post(f"{base_url}/_emulator/faults", json={"rate": 0.0})
    log = httpx.get(f"{base_url}/_emulator/requests").json()
    assert log["counts"]["GET /api/v1/templates"] >= 2 and log["faults"]["503"] >= 1
    httpx.delete(f"{base_url}/_emulator/requests")
    assert emu.request_log.total == 0


@pytest.mark.parametrize(("kind", "message"), [("drop", "without sending a response"), ("truncate", "complete message body")])
def test_socket_faults_over_real_http(served, kind: str, message: str) -> None:
    emu, base_url = served
    secret = emu.mint_key()
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {secret}"}) as client:
        emu.faults.script("GET /api/v1/classes", [kind])
        with pytest.raises(httpx.RemoteProtocolError, match=message):
            client.get("/api/v1/classes")
        assert client.get("/api/v1/classes").status_code == 200  # the server carries on


def test_truncated_body_over_real_http_is_a_prefix(served) -> None:
    emu, base_url = served
    secret = emu.mint_key()
    emu.faults.script("GET /api/v1/users", ["truncate_silent"])
    headers = {"Authorization": f"Bearer {secret}"}
    cut = httpx.get(f"{base_url}/api/v1/users", headers=headers)
    full = httpx.get(f"{base_url}/api/v1/users", headers=headers)
    assert cut.status_code == 200 and full.content.startswith(cut.content) and len(cut.content) < len(full.content)


def test_slow_response_times_out_over_real_http(served) -> None:
    emu, base_url = served
    secret = emu.mint_key()
    emu.faults.slow_s = 1.0
    emu.faults.script("GET /api/v1/templates", ["slow"])
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{base_url}/api/v1/templates", headers={"Authorization": f"Bearer {secret}"}, timeout=0.2)
