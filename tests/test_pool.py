"""The connection-per-slot transport against a real loopback HTTP/1.1 server that counts connections."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from class_source.pool import ConnectionPerSlotTransport

BODY = b'{"ok": true}'


class CountingServer:
    """Answers every request with BODY after `delay_s`; counts connections and peak requests in flight."""

    def __init__(self, delay_s: float = 0.02, close_after_headers: bool = False) -> None:
        self.delay_s = delay_s
        self.close_after_headers = close_after_headers
        self.connections = 0
        self.in_flight = 0
        self.peak_in_flight = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                self.in_flight += 1
                self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
                await asyncio.sleep(self.delay_s)
                self.in_flight -= 1
                if self.close_after_headers:  # promise a body, then drop the connection
                    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{")
                    await writer.drain()
                    break
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (len(BODY), BODY))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def _serve(server: CountingServer):
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    return listener, f"http://127.0.0.1:{port}"


def run(scenario):
    """Run a scenario; a connection that never comes back fails it instead of hanging the suite."""
    return asyncio.run(asyncio.wait_for(scenario, timeout=20))


def test_requests_share_at_most_size_keep_alive_connections():
    async def scenario():
        server = CountingServer()
        listener, url = await _serve(server)
        async with listener, httpx.AsyncClient(base_url=url, transport=ConnectionPerSlotTransport(3)) as client:
            for _ in range(3):  # three waves: later waves reuse the first wave's connections
                responses = await asyncio.gather(*(client.get("/x") for _ in range(9)))
                assert [r.content for r in responses] == [BODY] * 9
        return server

    server = run(scenario())
    assert server.peak_in_flight == 3
    assert server.connections == 3


def test_a_failed_request_gives_its_connection_back():
    async def scenario():
        server = CountingServer(close_after_headers=True)
        listener, url = await _serve(server)
        async with listener, httpx.AsyncClient(base_url=url, transport=ConnectionPerSlotTransport(1)) as client:
            for _ in range(3):  # with one slot, a leaked slot would hang the second request
                with pytest.raises(httpx.RemoteProtocolError):
                    await asyncio.wait_for(client.get("/x"), timeout=5)
        return server

    assert run(scenario()).connections == 3


def test_a_cancelled_request_gives_its_connection_back():
    async def scenario():
        server = CountingServer(delay_s=0.5)
        listener, url = await _serve(server)
        async with listener, httpx.AsyncClient(base_url=url, transport=ConnectionPerSlotTransport(1)) as client:
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(client.get("/x"), timeout=0.05)
            server.delay_s = 0
            response = await asyncio.wait_for(client.get("/x"), timeout=5)
            assert response.content == BODY

    run(scenario())


def test_a_streamed_response_holds_its_slot_until_closed():
    async def scenario():
        server = CountingServer(delay_s=0)
        listener, url = await _serve(server)
        async with listener, httpx.AsyncClient(base_url=url, transport=ConnectionPerSlotTransport(1)) as client:
            held = await client.send(client.build_request("GET", "/x"), stream=True)
            waiting = asyncio.ensure_future(client.get("/x"))
            await asyncio.sleep(0.1)
            assert not waiting.done()  # the only slot is still held by the open response
            await held.aclose()
            assert (await asyncio.wait_for(waiting, timeout=5)).content == BODY

    run(scenario())
