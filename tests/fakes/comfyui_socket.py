"""Pieces of the fake ComfyUI's transport: a recorded request, and one accepted websocket driven by the
`websockets` sans-I/O protocol on the upgraded HTTP socket (so HTTP and websocket share one port, as
on the real aiohttp server)."""
from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass
from typing import Any

from websockets.server import ServerProtocol


@dataclass
class Recorded:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, str]
    body: Any


class WebSocket:
    """One accepted websocket, written by the worker and read by its HTTP handler thread."""

    def __init__(self, sock: socket.socket, protocol: ServerProtocol) -> None:
        self.sock, self.protocol = sock, protocol
        self.lock = threading.Lock()
        self.open = True

    def send(self, frame: dict[str, Any] | bytes) -> None:
        with self.lock:
            if self.open:
                if isinstance(frame, bytes):
                    self.protocol.send_binary(frame)
                else:
                    self.protocol.send_text(json.dumps(frame).encode())
                self.flush()

    def drop(self) -> None:
        """Cut the TCP connection without a close frame, as a crashed proxy or server would."""
        with self.lock:
            self.open = False
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def flush(self) -> None:
        """Write what the protocol has queued (a close is followed by the end of our sending side)."""
        try:
            for data in self.protocol.data_to_send():
                if data:
                    self.sock.sendall(data)
                else:
                    self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self.open = False

    def serve(self, stopping: threading.Event) -> None:
        """Read client frames (pings, close) until the connection ends."""
        self.sock.settimeout(0.1)
        while self.open and not stopping.is_set():
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            with self.lock:
                if data:
                    self.protocol.receive_data(data)
                else:
                    self.protocol.receive_eof()
                self.protocol.events_received()  # pongs and close replies are queued by the protocol itself
                self.flush()
                if not data or self.protocol.close_expected():
                    self.open = False
        with self.lock:
            if stopping.is_set() and self.open:
                self.protocol.send_close(1001)
                self.flush()
            self.open = False
