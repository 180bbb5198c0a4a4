"""The aiohttp transport under httpx, against a real loopback HTTP/1.1 server that records what it sees."""

from __future__ import annotations

import asyncio
import gzip
import socket
import zlib

import httpx
import pytest

from class_source.transport import AiohttpTransport, BodyTooLargeError

BODY = b'[{"ok": true}]'


class Server:
    """Answers each request per `mode`; counts connections and the peak of requests in flight."""

    def __init__(self, mode: str = "ok", delay_s: float = 0.02) -> None:
        self.mode = mode
        self.delay_s = delay_s
        self.connections = 0
        self.in_flight = 0
        self.peak_in_flight = 0
        self.requests: list[bytes] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.requests.append(head)
                self.in_flight += 1
                self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
                await asyncio.sleep(self.delay_s)
                self.in_flight -= 1
                if self.mode == "cut":  # promise a body, send part of it, drop the connection
                    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n[{")
                    await writer.drain()
                    break
                if self.mode == "trickle":  # one byte every 0.1 s: each read is quick, the whole never ends in time
                    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n")
                    for _ in range(100):
                        writer.write(b" ")
                        await writer.drain()
                        await asyncio.sleep(0.1)
                    break
                if self.mode == "endless":  # chunked, without end (bounded here: 64 MiB at most)
                    writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
                    chunk = b" " * 2**16
                    for _ in range(1024):
                        writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        await writer.drain()
                    break
                if self.mode == "declared-huge":  # says 200 MB, sends a little, then waits
                    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 200000000\r\n\r\n[")
                    await writer.drain()
                    await asyncio.sleep(1)
                    break
                if self.mode == "gzip-bomb":  # 16 MiB of zeros in a few KB
                    body = gzip.compress(b"0" * 2**24)
                    writer.write(b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
                elif self.mode == "redirect":
                    writer.write(b"HTTP/1.1 302 Found\r\nlocation: http://elsewhere.example/\r\ncontent-length: 0\r\n\r\n")
                elif self.mode == "gzip":
                    body = gzip.compress(BODY)
                    writer.write(b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
                else:
                    writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (len(BODY), BODY))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def run(scenario):
    """Run a scenario; a connection that never comes back fails it instead of hanging the suite."""
    return asyncio.run(asyncio.wait_for(scenario, timeout=20))


async def _client(server: Server, size: int = 4, timeout_s: float = 5.0, **bounds):
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    client = httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}/api/v1", transport=AiohttpTransport(size, **bounds), timeout=timeout_s,
        headers={"Authorization": "Bearer k"},
    )
    return listener, client


def test_requests_share_at_most_max_connections_keep_alive_connections():
    server = Server()

    async def scenario():
        listener, client = await _client(server, size=3)
        async with listener, client:
            for _ in range(3):  # three waves: later waves reuse the first wave's connections
                responses = await asyncio.gather(*(client.get("/x") for _ in range(9)))
                assert [r.json() for r in responses] == [[{"ok": True}]] * 9

    run(scenario())
    assert server.peak_in_flight == 3
    assert server.connections == 3


def test_the_request_goes_out_as_httpx_built_it():
    server = Server()

    async def scenario():
        listener, client = await _client(server)
        async with listener, client:
            await client.get("/reporting/metrics", params={"ext_class_id": "Math 1/ä&b", "limit": 1000})

    run(scenario())
    head = server.requests[0].decode("latin-1")
    assert head.startswith("GET /api/v1/reporting/metrics?ext_class_id=Math+1%2F%C3%A4%26b&limit=1000 HTTP/1.1\r\n")
    assert "\r\nauthorization: bearer k\r\n" in head.lower()


def test_a_redirect_is_returned_not_followed():
    server = Server("redirect")

    async def scenario():
        listener, client = await _client(server)
        async with listener, client:
            return await client.get("/classes")

    response = run(scenario())
    assert response.status_code == 302 and response.headers["location"] == "http://elsewhere.example/"
    assert len(server.requests) == 1


def test_a_compressed_body_is_decoded_once():
    async def scenario():
        listener, client = await _client(Server("gzip"))
        async with listener, client:
            return (await client.get("/classes")).content

    assert run(scenario()) == BODY


def test_a_body_cut_short_is_an_httpx_transport_error_and_the_next_request_gets_a_fresh_connection():
    server = Server("cut")

    async def scenario():
        listener, client = await _client(server, size=1)
        async with listener, client:
            with pytest.raises(httpx.RemoteProtocolError):
                await client.get("/x")
            server.mode = "ok"
            return (await client.get("/x")).content

    assert run(scenario()) == BODY
    assert server.connections == 2


def test_a_slow_answer_is_an_httpx_read_timeout():
    async def scenario():
        listener, client = await _client(Server(delay_s=2.0), timeout_s=0.2)
        async with listener, client:
            with pytest.raises(httpx.ReadTimeout):
                await client.get("/x")

    run(scenario())


def test_nothing_listening_is_an_httpx_connect_error_naming_the_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there

    async def scenario():
        async with httpx.AsyncClient(transport=AiohttpTransport(1), timeout=2) as client:
            with pytest.raises(httpx.ConnectError, match=f"^nothing accepts connections on port {port}$"):
                await client.get(f"http://127.0.0.1:{port}/x")

    run(scenario())


def test_a_server_trickling_its_answer_is_cut_off_at_the_deadline_though_every_read_is_quick():
    async def scenario():
        listener, client = await _client(Server("trickle", delay_s=0), timeout_s=1.0, deadline_s=1.0)
        async with listener, client:
            # every read is quick (0.1 s apart, 1 s allowed) and the whole body would come after 10 s:
            # only the 1 s deadline on the whole response can end it with a timeout
            with pytest.raises(httpx.ReadTimeout):
                await client.get("/x")

    run(scenario())


@pytest.mark.parametrize("mode", ["endless", "declared-huge", "gzip-bomb"])
def test_a_body_over_the_limit_is_refused_once_it_passes_it(mode):
    limit = 2**20

    async def scenario():
        listener, client = await _client(Server(mode, delay_s=0), max_response_bytes=limit)
        async with listener, client:
            with pytest.raises(BodyTooLargeError) as caught:
                await client.get("/x")
            return caught.value.limit

    assert run(scenario()) == limit


def test_a_deflate_body_within_the_limit_is_decoded():
    class Deflate(Server):
        async def handle(self, reader, writer):
            await reader.readuntil(b"\r\n\r\n")
            body = zlib.compress(BODY)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-encoding: deflate\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
            await writer.drain()
            writer.close()

    async def scenario():
        listener, client = await _client(Deflate(), max_response_bytes=100)
        async with listener, client:
            response = await client.get("/x")
            return response.content, "content-encoding" in response.headers

    assert run(scenario()) == (BODY, False)


def test_requests_go_through_the_proxy_the_environment_names_unless_no_proxy_exempts_the_host(monkeypatch):
    proxy = Server()

    async def scenario():
        listener = await asyncio.start_server(proxy.handle, "127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
        monkeypatch.setenv("NO_PROXY", "exempt.example")
        async with listener, httpx.AsyncClient(transport=AiohttpTransport(2), timeout=2) as client:
            assert (await client.get("http://school.example/api/v1/classes")).content == BODY
            with pytest.raises(httpx.ConnectError):  # not proxied: resolved directly, and it does not exist
                await client.get("http://exempt.example/api/v1/classes")

    run(scenario())
    assert [head.split(b"\r\n")[0] for head in proxy.requests] == [b"GET http://school.example/api/v1/classes HTTP/1.1"]
