"""A PostgreSQL wire-protocol proxy for fault injection: TCP on 127.0.0.1 in front of a server's unix socket.

Threads and sockets only. Every client message is parsed (the untyped startup packets, then typed messages) and
numbered across all connections; server messages are parsed too, for the backend's pid (BackendKeyData) and the
replies (CommandComplete). A controller decides, message by message, to forward, to cut the connection before,
in the middle of or after the message, and may run something of its own at that moment (terminate the backend,
kill the client, restart the server). Without a controller the proxy is transparent.
"""

from __future__ import annotations

import contextlib
import enum
import socket
import struct
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102
_LINGER_RESET = struct.pack("ii", 1, 0)  # close() sends RST: the peer sees the connection torn, not ended


class Verdict(enum.Enum):
    FORWARD = "forward"
    CUT_BEFORE = "cut-before"  # the message never reaches the other side
    CUT_MID = "cut-mid"  # half of it does
    CUT_AFTER = "cut-after"  # it does, then the connection is gone


@dataclass(frozen=True)
class Message:
    """One protocol message. ``number`` counts client messages over every connection of the proxy (1, 2, ...);
    server messages have 0. ``sql`` is the text of a Query or Parse; ``tag`` the tag of a CommandComplete."""

    number: int
    kind: str  # the type byte, or "startup"
    raw: bytes
    sql: str | None = None
    tag: str | None = None


@dataclass
class Link:
    """One client connection and its upstream connection."""

    number: int
    client: socket.socket
    server: socket.socket | None = None
    backend_pid: int | None = None
    params: dict[str, str] = field(default_factory=dict)
    work: bool = False  # the connection that holds pgstate's advisory lock (set by controllers)
    pending_single_byte: int = 0  # replies to SSLRequest / GSSENCRequest: one untyped byte each
    closed: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def application_name(self) -> str:
        return self.params.get("application_name", "")

    def cut(self) -> None:
        with self.lock:
            if self.closed:
                return
            self.closed = True
        for sock in (self.client, self.server):
            if sock is None:
                continue
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # wakes the other pump thread out of recv()
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
            with contextlib.suppress(OSError):
                sock.close()


class Controller:
    """Transparent: every message is forwarded. Subclasses decide otherwise; they are called from the pump
    threads (one per direction and connection), so their state needs a lock."""

    def client(self, link: Link, message: Message) -> tuple[Verdict, Callable[[], None] | None]:
        """What to do with a client message, and what to run after forwarding it (or after the cut)."""
        return Verdict.FORWARD, None

    def server(self, link: Link, message: Message) -> tuple[Verdict, Callable[[], None] | None]:
        """What to do with a server message; the callable runs *before* it is forwarded (or instead)."""
        return Verdict.FORWARD, None


def _cstring(data: bytes, start: int) -> tuple[str, int]:
    end = data.index(b"\0", start)
    return data[start:end].decode("utf-8", errors="replace"), end + 1


def _startup_params(body: bytes) -> dict[str, str]:
    params: dict[str, str] = {}
    position = 4  # after the protocol version
    try:
        while position < len(body) and body[position] != 0:
            key, position = _cstring(body, position)
            value, position = _cstring(body, position)
            params[key] = value
    except ValueError:
        pass
    return params


def _client_message(number: int, kind: str, raw: bytes) -> Message:
    sql = None
    try:
        if kind == "Q":
            sql, _ = _cstring(raw, 5)
        elif kind == "P":
            _name, position = _cstring(raw, 5)
            sql, _ = _cstring(raw, position)
    except ValueError:
        pass
    return Message(number, kind, raw, sql=sql)


def _server_message(kind: str, raw: bytes) -> Message:
    tag = None
    if kind == "C":
        with contextlib.suppress(ValueError):
            tag, _ = _cstring(raw, 5)
    return Message(0, kind, raw, tag=tag)


class Proxy:
    """Listens on 127.0.0.1:<port>; each connection is relayed to ``upstream`` (a unix socket path)."""

    def __init__(self, upstream: str, controller: Controller | None = None):
        self.upstream = upstream
        self.controller = controller or Controller()
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port: int = self.listener.getsockname()[1]
        self.links: list[Link] = []
        self.errors: list[str] = []  # what went wrong in the proxy itself (a controller's exception): a harness error
        self.messages = 0
        self._lock = threading.Lock()
        self._closed = False
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, name=f"proxy-{self.port}", daemon=True)
        self._accepting.start()

    def url(self, dbname: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def close(self) -> None:
        self._closed = True
        # shutdown() first: close() alone leaves the thread blocked in accept(), which keeps the socket listening
        # (seen: hundreds of such listeners after a campaign, and runs of a PostgreSQL 18 scenario whose connection
        # was relayed to the PostgreSQL 15 server by one of them). shutdown() wakes the accept and stops it.
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.listener.close()
        self._accepting.join(timeout=5)
        with self._lock:
            links = list(self.links)
        for link in links:
            link.cut()
        for thread in self._threads:
            thread.join(timeout=5)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self._closed:  # accepted as the proxy closed: refuse it rather than relay it
                client.close()
                return
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as libpq does: no Nagle delays
            with self._lock:
                link = Link(len(self.links) + 1, client)
                self.links.append(link)
            try:
                upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                upstream.connect(self.upstream)
            except OSError:
                link.cut()  # the server is down (restarting): the client sees its connection refused
                continue
            link.server = upstream
            for target in (self._pump_client, self._pump_server):
                thread = threading.Thread(target=target, args=(link,), daemon=True)
                self._threads.append(thread)
                thread.start()

    def _decide(
        self, decide: Callable[[Link, Message], tuple[Verdict, Callable[[], None] | None]], link: Link, message: Message
    ) -> tuple[Verdict, Callable[[], None] | None]:
        """The controller's verdict; an exception in it is the harness's, noted, and the message forwarded (a pump
        thread that died would cut the connection: a fault nobody asked for)."""
        try:
            verdict, then = decide(link, message)
        except Exception as error:
            self.errors.append(f"controller: {type(error).__name__}: {error}\n{traceback.format_exc(limit=4)}")
            return Verdict.FORWARD, None
        if then is None:
            return verdict, None

        def guarded() -> None:
            try:
                then()
            except Exception as error:
                self.errors.append(f"action: {type(error).__name__}: {error}\n{traceback.format_exc(limit=4)}")

        return verdict, guarded

    def _next_number(self) -> int:
        with self._lock:
            self.messages += 1
            return self.messages

    def _pump_client(self, link: Link) -> None:
        buffer = bytearray()
        startup = True
        assert link.server is not None
        try:
            while True:
                data = link.client.recv(65536)
                if not data:
                    return
                buffer += data
                pending = bytearray()
                while True:
                    if startup:
                        if len(buffer) < 4:
                            break
                        size = int.from_bytes(buffer[:4], "big")
                        if len(buffer) < size:
                            break
                        raw = bytes(buffer[:size])
                        code = int.from_bytes(raw[4:8], "big") if size >= 8 else 0
                        if code in (SSL_REQUEST, GSSENC_REQUEST):
                            link.pending_single_byte += 1  # before forwarding: the reply may come at once
                        elif code != CANCEL_REQUEST:
                            startup = False
                            link.params = _startup_params(raw[4:])
                        message = Message(self._next_number(), "startup", raw)
                    else:
                        if len(buffer) < 5:
                            break
                        size = 1 + int.from_bytes(buffer[1:5], "big")
                        if len(buffer) < size:
                            break
                        raw = bytes(buffer[:size])
                        message = _client_message(self._next_number(), chr(raw[0]), raw)
                    del buffer[:size]
                    verdict, then = self._decide(self.controller.client, link, message)
                    if verdict is Verdict.FORWARD and then is None:
                        pending += raw
                        continue
                    if pending:
                        link.server.sendall(pending)
                        pending = bytearray()
                    if verdict is Verdict.CUT_BEFORE:
                        link.cut()
                    elif verdict is Verdict.CUT_MID:
                        link.server.sendall(raw[: max(1, len(raw) // 2)])
                        link.cut()
                    else:
                        link.server.sendall(raw)
                        if verdict is Verdict.CUT_AFTER:
                            link.cut()
                    if then is not None:
                        then()
                    if link.closed:
                        return
                if pending:
                    link.server.sendall(pending)
        except OSError:
            return
        finally:
            link.cut()

    def _pump_server(self, link: Link) -> None:
        buffer = bytearray()
        assert link.server is not None
        try:
            while True:
                data = link.server.recv(65536)
                if not data:
                    return
                buffer += data
                pending = bytearray()
                while True:
                    if link.pending_single_byte and buffer:
                        pending += buffer[:1]
                        del buffer[:1]
                        link.pending_single_byte -= 1
                        continue
                    if len(buffer) < 5:
                        break
                    size = 1 + int.from_bytes(buffer[1:5], "big")
                    if len(buffer) < size:
                        break
                    raw = bytes(buffer[:size])
                    del buffer[:size]
                    message = _server_message(chr(raw[0]), raw)
                    if message.kind == "K" and len(raw) >= 9:
                        link.backend_pid = int.from_bytes(raw[5:9], "big")
                    verdict, then = self._decide(self.controller.server, link, message)
                    if verdict is Verdict.FORWARD and then is None:
                        pending += raw
                        continue
                    if pending:
                        link.client.sendall(pending)
                        pending = bytearray()
                    if then is not None:
                        then()
                    if verdict is Verdict.FORWARD:
                        link.client.sendall(raw)
                    elif verdict is Verdict.CUT_MID:
                        link.client.sendall(raw[: max(1, len(raw) // 2)])
                        link.cut()
                    else:
                        if verdict is Verdict.CUT_AFTER:
                            link.client.sendall(raw)
                        link.cut()
                    if link.closed:
                        return
                if pending:
                    link.client.sendall(pending)
        except OSError:
            return
        finally:
            link.cut()
