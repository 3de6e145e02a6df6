"""A TCP server on 127.0.0.1 with a thread per connection, on raw sockets, for the test
servers that must control every byte and its timing (tests/faults/hostile_smtp.py,
tests/providers/scripted_smtp.py). A subclass says what a connection gets (serve)."""

import contextlib
import socket
import threading
from typing import Self

HOST = "127.0.0.1"


class LoopbackServer:
    name = "loopback-server"
    # The accepted sockets' timeout: None blocks for ever (the subclass keeps time itself).
    socket_timeout: float | None = None

    def __init__(self) -> None:
        self._listener = socket.create_server((HOST, 0))
        self.host = HOST
        self.port: int = self._listener.getsockname()[1]
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._connections: list[socket.socket] = []
        self._threads: list[threading.Thread] = []

    def start(self) -> Self:
        self._run(self._accept, name=self.name)
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._listener.close()
        with self._lock:
            for conn in self._connections:
                # shutdown() wakes a thread blocked reading it; close() alone does not.
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def connected(self, conn: socket.socket) -> object:
        """Called for each new connection (under the server's lock); what it returns is
        handed to serve()."""
        return None

    def serve(self, conn: socket.socket, state: object) -> None:
        raise NotImplementedError

    def _accept(self) -> None:
        self._listener.settimeout(0.05)  # to see _stopping: close() does not wake accept()
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(self.socket_timeout)
            with self._lock:
                self._connections.append(conn)
                state = self.connected(conn)
            self._run(self._handle, conn, state)

    def _handle(self, conn: socket.socket, state: object) -> None:
        try:
            self.serve(conn, state)
        except OSError:
            pass  # the client hung up, or the test is over
        finally:
            conn.close()

    def _run(self, target, *args, name: str | None = None) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)
