"""Serving the emulator over real HTTP with uvicorn (background thread for tests, or blocking)."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any, Iterator

import uvicorn


class _QuietInjectedFaults(logging.Filter):
    """Injected drops close sockets on purpose; uvicorn must not log them as server errors."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return type(exc).__name__ != "InjectedDisconnect"


def _config(app: Any, host: str, port: int, log_level: str) -> uvicorn.Config:
    logging.getLogger("uvicorn.error").addFilter(_QuietInjectedFaults())
    # h11: the pure-Python protocol whose request cycle exposes the socket for injected drops. No Date
    # header of uvicorn's: the emulator dates its API answers with its own clock (app.py).
    return uvicorn.Config(
        app, host=host, port=port, log_level=log_level, access_log=False, lifespan="off", http="h11", loop="asyncio", date_header=False
    )


@contextlib.contextmanager
def serve(app: Any, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning") -> Iterator[str]:
    """Run uvicorn on a daemon thread; yield the base URL (port 0 picks a free port)."""
    server = uvicorn.Server(_config(app, host, port, log_level))
    thread = threading.Thread(target=server.run, name="class-api-emulator", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"the emulator server failed to start on {host}:{port}")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the emulator server did not start within 10 s on {host}:{port}")
        time.sleep(0.01)
    bound_port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def serve_forever(app: Any, host: str = "127.0.0.1", port: int = 8765, log_level: str = "info") -> None:
    """Blocking server for the `class-elt emulator` command (Ctrl-C stops it)."""
    uvicorn.Server(_config(app, host, port, log_level)).run()
