"""Real faults for the fault tests, without privileges where possible: a database that stops
answering (a TCP proxy in front of PostgreSQL that drops every connection, or an exclusive lock
on the SQLite file) and a storage folder that is full or read-only (a tiny tmpfs, root only)."""

from __future__ import annotations

import contextlib
import os
import selectors
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool
from werkzeug.wrappers import Response

from tests.wechat.fake_server import FakeWeChat


class TcpProxy:
    """Forwards 127.0.0.1:<port> to the database server; ``down()`` closes every open connection
    and refuses new ones (as a server that crashed or a network that broke), ``up()`` heals."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.available = True
        self.lock = threading.Lock()
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.stopped = False
        self.thread = threading.Thread(target=self._accept, name="db-proxy", daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stopped:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.available:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.pairs.append((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    @staticmethod
    def _pump(a: socket.socket, b: socket.socket) -> None:
        selector = selectors.DefaultSelector()
        selector.register(a, selectors.EVENT_READ, b)
        selector.register(b, selectors.EVENT_READ, a)
        try:
            while True:
                for key, _ in selector.select(timeout=1):
                    data = key.fileobj.recv(65536)
                    if not data:
                        return
                    key.data.sendall(data)
        except (OSError, ValueError):
            return
        finally:
            selector.close()
            for sock in (a, b):
                with contextlib.suppress(OSError):
                    sock.close()

    def down(self) -> None:
        self.available = False
        with self.lock:
            pairs, self.pairs = self.pairs, []
        for pair in pairs:
            for sock in pair:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def up(self) -> None:
        self.available = True

    def close(self) -> None:
        self.stopped = True
        self.down()
        self.listener.close()


class DatabaseOutage:
    """The session's database seen through something we can break. ``url`` is what a second app
    connects with; ``down()`` / ``up()`` break and heal it."""

    def __init__(self, session_url: str) -> None:
        url = make_url(session_url)
        self.sqlite_path: str | None = None
        self.proxy: TcpProxy | None = None
        if url.get_backend_name() == "sqlite":
            # The second app opens the file through a symbolic link that down() points nowhere:
            # SQLite then cannot open the database, as when its disk or mount is gone.
            self.sqlite_path = url.database
            self.link = Path(tempfile.mkdtemp(prefix="db-link-")) / "credit.db"
            self.link.symlink_to(self.sqlite_path)
            self.url = url.set(database=str(self.link)).render_as_string(hide_password=False)
        else:
            self.proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
            self.url = url.set(host="127.0.0.1", port=self.proxy.port).render_as_string(hide_password=False)

    @property
    def engine_options(self) -> dict:
        if self.sqlite_path:
            # A connection per checkout: a pooled one would keep the old file open.
            return {"poolclass": NullPool, "connect_args": {"timeout": 1}}
        # The production options (no pool_pre_ping: backend.app._ping_after_idle tests the idle
        # connections), with a short connect timeout.
        return {"hide_parameters": True, "connect_args": {"connect_timeout": 2}}

    def down(self) -> None:
        if self.proxy:
            self.proxy.down()
            return
        self.link.unlink()
        self.link.symlink_to(self.link.parent / "gone" / "credit.db")

    def up(self) -> None:
        if self.proxy:
            self.proxy.up()
            return
        self.link.unlink()
        self.link.symlink_to(self.sqlite_path)

    def close(self) -> None:
        self.up()
        if self.proxy:
            self.proxy.close()


def can_mount() -> bool:
    return os.geteuid() == 0


@contextlib.contextmanager
def tiny_filesystem(path: Path, size: str = "256k"):
    """A tmpfs of ``size`` at ``path`` (root only: CI runs the suite as root in its container)."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(path: Path) -> None:
    """Write until the filesystem is full."""
    with open(path / "filler.bin", "wb", buffering=0) as handle, contextlib.suppress(OSError):
        while True:
            handle.write(b"\0" * 4096)


def remount_read_only(path: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True)


class FlakyWeChat(FakeWeChat):
    """The fake WeChat server, plus HTTP-level failures (a 502 from WeChat's gateway), which
    the fake's own ``fail()`` (JSON errcodes with HTTP 200) does not produce."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.http_failures: list[list] = []  # [path or "*", status, remaining or None]

    def fail_http(self, path: str, status: int, *, times: int | None = None) -> None:
        with self.lock:
            self.http_failures.append([path.strip("/"), status, times])

    def clear_failures(self) -> None:
        super().clear_failures()
        with self.lock:
            self.http_failures.clear()

    def reset(self) -> None:
        super().reset()
        with self.lock:
            self.http_failures.clear()

    def _http_failure(self, path: str) -> int | None:
        with self.lock:
            for failure in list(self.http_failures):
                if failure[0] not in ("*", path):
                    continue
                if failure[2] is not None:
                    failure[2] -= 1
                    if failure[2] <= 0:
                        self.http_failures.remove(failure)
                return failure[1]
        return None

    def wsgi(self, environ, start_response):
        path = environ.get("PATH_INFO", "").strip("/")
        status = None if path.startswith("__fake__/") else self._http_failure(path)
        if status is None:
            return super().wsgi(environ, start_response)
        with self.lock:
            self.requests.append({"path": path, "method": environ["REQUEST_METHOD"], "query": {}, "json": None})
        return Response("<html><body>502 Bad Gateway</body></html>", status, content_type="text/html")(
            environ, start_response
        )
