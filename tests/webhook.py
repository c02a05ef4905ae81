"""A real webhook receiver on 127.0.0.1 for tests: records every POST it gets.

with WebhookReceiver() as hook:
    hook.url("/alerts")           # give this to a watch's notify list
    hook.statuses = [500, 200]    # answers, in order (then 200)
    hook.delay = 2.0              # hold the answer after reading the body
    hook.posts                    # [(path, headers, parsed JSON body), ...]
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from types import TracebackType
from typing import Any


class WebhookReceiver:
    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, str], Any]] = []
        self.statuses: list[int] = []
        self.delay = 0.0
        self._lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                with receiver._lock:
                    receiver.posts.append(
                        (
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            json.loads(raw),
                        )
                    )
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                time.sleep(receiver.delay)
                body = b"ok"
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
