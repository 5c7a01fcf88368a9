"""Run an ASGI app on a loopback port in a background thread."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn


class ServerDidNotStart(RuntimeError):
    """The server thread did not report itself started in time."""


@contextlib.contextmanager
def serve(app: Any, *, host: str = "127.0.0.1", port: int = 0, start_timeout: float = 10.0) -> Iterator[str]:
    """Serve ``app`` with uvicorn on ``host:port`` (0 = any free port) and yield its base URL.

    The socket is bound before the thread starts, so the URL is valid as soon as it is yielded.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    # WebSockets through wsproto, pinned: with `websockets` installed uvicorn would switch to it.
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False, ws="wsproto")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise ServerDidNotStart(f"server on {host}:{bound_port} did not start")
        time.sleep(0.005)
    try:
        yield f"http://{host}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
