"""A webhook on loopback (SIEM feed, Slack-compatible alerts) that answers 503 to its first
``failures`` POSTs, so the sender must retry, and keeps the JSON body of every accepted one."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class WebhookReceiver:
    def __init__(self, failures: int = 0, path: str = "/hook") -> None:
        self.bodies: list[Any] = []  # each accepted POST's JSON body
        self.refused = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                if receiver.refused < failures:
                    receiver.refused += 1
                    self.send_response(503)
                else:
                    receiver.bodies.append(json.loads(body))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}{path}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def records(self) -> list[Any]:
        """The records of every accepted batch, for senders that POST JSON arrays (the SIEM feed)."""
        return [record for body in self.bodies for record in body]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
