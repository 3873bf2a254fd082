"""A TCP forwarder in front of the real node, to inject network faults (like toxiproxy).

``FaultProxy(port)`` listens on a free loopback port and forwards every connection to the
node. ``cut()`` closes every live connection and turns new ones away (accepted, then closed
at once: a dead node, as the client sees it), counting each attempt in ``refused``;
``heal()`` forwards again; ``delay`` (seconds) holds back every chunk the node answers: a
slow node. The engine behind it is the real one; only the network misbehaves.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time


class FaultProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(64)
        self.port = self.server.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.delay = 0.0
        self.refused = 0
        self._down = False
        self._live: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            self._down = True
            live, self._live = self._live, set()
        for sock in live:
            _close(sock)

    def heal(self) -> None:
        with self._lock:
            self._down = False

    def close(self) -> None:
        self._closed = True
        self.cut()
        _close(self.server)

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with self._lock:
                if self._down:
                    self.refused += 1
                    _close(conn)
                    continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _close(conn)
                continue
            upstream.settimeout(None)
            with self._lock:
                self._live.update((conn, upstream))
            threading.Thread(target=self._pump, args=(conn, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, conn, True), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, answers: bool) -> None:
        try:
            while chunk := src.recv(65536):
                if answers and self.delay:
                    time.sleep(self.delay)
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            _close(src)
            _close(dst)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
