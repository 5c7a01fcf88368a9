"""A loopback HTTP/1.1 relay that can reset connections, put in front of the LangSmith stand-in.

An ASGI app cannot make its TCP connection fail; a real network can.  This relay passes each
request through to the stand-in (adding ``X-Sandbox-Proxy``, so the stand-in knows a reset is
possible) and each answer back, except an answer marked ``X-Sandbox-Reset``: then it closes the
client's connection with ``SO_LINGER 0``, which sends a TCP RST.  The client has sent its whole
request and sees its read fail (httpx ``ReadError``: connection reset by peer), exactly as when
a load balancer or the network drops a connection.

The stand-in decides which calls are reset (:class:`bot.sandbox.langsmith.Fault`), so the
seeded choice lives in one place and works whether the stand-in runs in this process or another.
When a client hangs up while its call is still in flight (a read timeout), the relay closes the
upstream connection too, so the stand-in sees the disconnect.

The relay reads requests and answers framed by ``Content-Length`` (what httpx and Starlette
send); an answer with neither length nor chunking is relayed until the stand-in closes.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import struct
import threading
from collections.abc import Iterator

import httpx

from bot.sandbox.langsmith import PROXY_HEADER, RESET_HEADER

__all__ = ["FaultyProxy", "proxying"]

log = logging.getLogger(__name__)

_MAX_HEAD = 64 * 1024


class _Closed(Exception):
    """The peer closed the connection (cleanly, between messages, or not)."""


class _Reader:
    """Buffered reads of HTTP/1.1 messages from one socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise _Closed
        self.buffer += chunk

    def head(self) -> bytes:
        while b"\r\n\r\n" not in self.buffer:
            if len(self.buffer) > _MAX_HEAD:
                raise _Closed
            self._fill()
        end = self.buffer.index(b"\r\n\r\n") + 4
        head, self.buffer = self.buffer[:end], self.buffer[end:]
        return head

    def exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._fill()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def chunked(self) -> bytes:
        """A chunked body, returned as received (sizes and trailers included)."""
        out = b""
        while True:
            while b"\r\n" not in self.buffer:
                self._fill()
            end = self.buffer.index(b"\r\n") + 2
            line, self.buffer = self.buffer[:end], self.buffer[end:]
            out += line
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while not out.endswith(b"\r\n\r\n"):
                    while b"\r\n" not in self.buffer:
                        self._fill()
                    end = self.buffer.index(b"\r\n") + 2
                    trailer, self.buffer = self.buffer[:end], self.buffer[end:]
                    out += trailer
                    if trailer == b"\r\n":
                        return out
                return out
            out += self.exactly(size + 2)

    def rest(self) -> bytes:
        """Everything until the peer closes."""
        while True:
            try:
                self._fill()
            except _Closed:
                data, self.buffer = self.buffer, b""
                return data


def _headers(head: bytes) -> dict[str, str]:
    lines = head.decode("latin-1").split("\r\n")[1:]
    out: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if sep:
            out[name.strip().lower()] = value.strip()
    return out


def _body(reader: _Reader, headers: dict[str, str], *, is_response: bool) -> tuple[bytes, bool]:
    """(body, whether the connection ends after it)."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return reader.chunked(), False
    if "content-length" in headers:
        return reader.exactly(int(headers["content-length"])), False
    if is_response:
        return reader.rest(), True
    return b"", False


def _reset(sock: socket.socket) -> None:
    """Close with an RST instead of a FIN."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class FaultyProxy:
    """Relays ``host:port`` → ``upstream`` (an ``http://host:port`` URL), resetting where the stand-in says."""

    def __init__(self, upstream: str, *, host: str = "127.0.0.1", port: int = 0) -> None:
        url = httpx.URL(upstream)
        if url.scheme != "http" or not url.host:
            raise ValueError(f"upstream must be an http:// URL, got {upstream!r}")
        self.upstream = (url.host, url.port or 80)
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, port))
        self._listener.listen(128)
        self.url = f"http://{host}:{self._listener.getsockname()[1]}"
        self.resets = 0  # connections reset so far
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="faulty-proxy", daemon=True)

    def __repr__(self) -> str:
        return f"FaultyProxy({self.url} -> {self.upstream[0]}:{self.upstream[1]}, resets={self.resets})"

    def start(self) -> FaultyProxy:
        self._thread.start()
        return self

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        with self._lock:
            open_now = list(self._open)
        for sock in open_now:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(5)

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), name="faulty-proxy-conn", daemon=True).start()

    def _track(self, *socks: socket.socket, add: bool) -> None:
        with self._lock:
            for sock in socks:
                if add:
                    self._open.add(sock)
                else:
                    self._open.discard(sock)

    def _relay(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.upstream, timeout=10)
        except OSError:
            _reset(client)
            return
        upstream.settimeout(None)
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._track(client, upstream, add=True)
        reset = False
        try:
            reset = self._exchange(client, upstream)
        except (_Closed, OSError, ValueError):
            pass
        finally:
            self._track(client, upstream, add=False)
            upstream.close()
            if reset:
                _reset(client)
            else:
                client.close()

    def _exchange(self, client: socket.socket, upstream: socket.socket) -> bool:
        """Relay request/answer pairs until either side closes; True when the client is to be reset."""
        from_client, from_upstream = _Reader(client), _Reader(upstream)
        while not self._closed.is_set():
            head = from_client.head()
            body, _ = _body(from_client, _headers(head), is_response=False)
            upstream.sendall(head[:-2] + f"{PROXY_HEADER}: reset\r\n\r\n".encode() + body)
            if not self._await_answer(client, from_client, upstream, from_upstream):
                return False  # the client hung up first (a timeout): drop the call upstream too
            answer = from_upstream.head()
            headers = _headers(answer)
            answer_body, last = _body(from_upstream, headers, is_response=True)
            if RESET_HEADER in headers:
                with self._lock:
                    self.resets += 1
                return True
            client.sendall(answer + answer_body)
            if last or headers.get("connection", "").lower() == "close":
                return False
        return False

    def _await_answer(
        self, client: socket.socket, from_client: _Reader, upstream: socket.socket, from_upstream: _Reader
    ) -> bool:
        """Wait for the stand-in's answer; False if the client closes its connection meanwhile."""
        watch_client = not from_client.buffer
        while not from_upstream.buffer:
            readable, _, _ = select.select([upstream, client] if watch_client else [upstream], [], [], 0.5)
            if upstream in readable:
                return True
            if client in readable:
                try:
                    peeked = client.recv(1, socket.MSG_PEEK)
                except OSError:
                    return False
                if not peeked:
                    return False
                watch_client = False  # it sent more (pipelining): stop watching, it is still there
            if self._closed.is_set():
                return False
        return True


@contextlib.contextmanager
def proxying(upstream: str, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[FaultyProxy]:
    """Run a :class:`FaultyProxy` in front of ``upstream`` for the duration of the block."""
    proxy = FaultyProxy(upstream, host=host, port=port).start()
    try:
        yield proxy
    finally:
        proxy.close()
