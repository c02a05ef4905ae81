"""A local HTTP server for tests: real bytes on 127.0.0.1, no network (STYLE.md 37b).

Tests register routes, then point the code under test at `server.url(path)`::

    server.add("/feed.xml", body=xml, content_type="application/rss+xml",
               etag='"v1"')                        # 304 when If-None-Match matches
    server.add("/page", body=html, encoding="gzip")  # compressed on the fly
    server.add("/slow", body=b"x", delay=2.0)        # headers after 2 s
    server.add("/trickle", body=b"x" * 100, chunk_size=1, chunk_delay=0.1)
    server.add("/endless", endless=True)     # never ends (bounded: see Response)
    server.add("/big", stream=lambda: iter_chunks(), length=50_000_000)
    server.add("/busy", status=503, headers={"Retry-After": "120"})
    server.redirect("/old", "/new", status=301)      # relative or absolute Location
    server.route("/dyn", lambda req: Response(body=req.path.encode()))
    server.serve_directory("/feeds/", Path(".../corpus/feeds"))

    server.requests            # every request received, in order (RecordedRequest)
    server.requests_to("/feed.xml")[-1].headers["if-none-match"]

Unknown paths answer 404.  Handlers never raise into the test: a client that
disconnects mid-body just ends that response.
"""

from __future__ import annotations

import email.utils
import gzip
import hashlib
import http.server
import mimetypes
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Literal
from urllib.parse import unquote, urlsplit

Encoding = Literal["gzip", "deflate", "raw-deflate"]


@dataclass(frozen=True, kw_only=True)
class Response:
    """What a route answers.

    Attributes:
        status: HTTP status.
        body: the body bytes (ignored with ``stream`` or ``endless``).
        content_type: sent as Content-Type unless None.
        headers: extra headers (they win over the computed ones).
        etag: sent as ETag; a matching If-None-Match gets 304.
        last_modified: sent as Last-Modified; an If-Modified-Since at or after it
            gets 304.
        encoding: compress ``body`` on the fly and send Content-Encoding.
            "raw-deflate" sends headerless deflate labelled "deflate".
        delay: seconds to wait before sending anything.
        chunk_size: body bytes per write.
        chunk_delay: seconds between writes (a slow, trickling body).
        stream: a callable returning the body chunks (large generated bodies).
        length: Content-Length for ``stream``; without it the body is
            close-delimited.
        endless: send ``endless_chunk`` forever, close-delimited; stops by itself
            after ``max_seconds``, when the client goes away, or at server stop.
    """

    status: int = 200
    body: bytes = b""
    content_type: str | None = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    encoding: Encoding | None = None
    delay: float = 0.0
    chunk_size: int = 64 * 1024
    chunk_delay: float = 0.0
    stream: Callable[[], Iterable[bytes]] | None = None
    length: int | None = None
    endless: bool = False
    endless_chunk: bytes = b"<p>" + b"x" * 1021
    max_seconds: float = 30.0


@dataclass(frozen=True)
class RecordedRequest:
    """One request as received.  Header names are lower-cased."""

    method: str
    path: str  # without the query string
    query: str
    headers: dict[str, str]
    time: float  # time.monotonic() at arrival


Handler = Callable[[RecordedRequest], Response]


class LocalHTTPServer:
    """Threaded stdlib HTTP/1.1 server on 127.0.0.1 with an ephemeral port."""

    def __init__(self) -> None:
        self._routes: dict[str, Handler] = {}
        self._prefixes: list[tuple[str, Path]] = []
        self._lock = threading.Lock()
        self.requests: list[RecordedRequest] = []
        self.stopping = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), _RequestHandler)
        self._httpd.owner = self
        self._thread: threading.Thread | None = None

    # -- lifecycle

    def start(self) -> LocalHTTPServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="test-http",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> LocalHTTPServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- addresses

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "/") -> str:
        """Absolute URL of ``path`` on this server."""
        return self.base_url + (path if path.startswith("/") else "/" + path)

    # -- routes

    def route(self, path: str, handler: Handler) -> str:
        """Answer ``path`` (exact match, query ignored) with ``handler(request)``."""
        with self._lock:
            self._routes[path] = handler
        return self.url(path)

    def add(self, path: str, response: Response | None = None, **kwargs: object) -> str:
        """Serve a fixed `Response` (or one built from ``kwargs``) at ``path``.

        Returns:
            The absolute URL of the route.
        """
        fixed = response if response is not None else Response(**kwargs)  # type: ignore[arg-type]
        return self.route(path, lambda _req: fixed)

    def slow_down(self, path: str, seconds: float) -> None:
        """Make an existing route answer ``seconds`` later than it did."""
        with self._lock:
            inner = self._routes[path]

        def slow(req: RecordedRequest) -> Response:
            time.sleep(seconds)
            return inner(req)

        self.route(path, slow)

    def redirect(self, path: str, location: str, status: int = 302) -> str:
        """Answer ``path`` with a redirect to ``location`` (sent verbatim)."""
        return self.add(
            path, status=status, headers={"Location": location}, content_type=None
        )

    def serve_directory(self, prefix: str, root: Path) -> str:
        """Serve files under ``root`` at ``prefix`` with ETag and Last-Modified.

        Returns:
            The absolute URL of ``prefix``.
        """
        prefix = prefix if prefix.endswith("/") else prefix + "/"
        with self._lock:
            self._prefixes.append((prefix, root.resolve()))
        return self.url(prefix)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        """Requests received for ``path``, oldest first."""
        with self._lock:
            return [r for r in self.requests if r.path == path]

    # -- used by the handler

    def _record(self, req: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(req)

    def _resolve(self, req: RecordedRequest) -> Response:
        with self._lock:
            handler = self._routes.get(req.path)
            prefixes = list(self._prefixes)
        if handler is not None:
            return handler(req)
        for prefix, root in prefixes:
            if req.path.startswith(prefix):
                return _file_response(root, unquote(req.path[len(prefix) :]))
        return Response(status=404, body=b"not found", content_type="text/plain")


def _file_response(root: Path, rel: str) -> Response:
    path = (root / rel).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return Response(status=404, body=b"not found", content_type="text/plain")
    st = path.stat()
    ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if path.suffix in (".xml", ".rss", ".atom", ".rdf"):
        ctype = "application/xml"
    tag = hashlib.sha1(f"{st.st_mtime_ns}-{st.st_size}".encode()).hexdigest()[:16]
    return Response(
        body=path.read_bytes(),
        content_type=ctype,
        etag=f'"{tag}"',
        last_modified=email.utils.formatdate(st.st_mtime, usegmt=True),
    )


def _not_modified(req: RecordedRequest, resp: Response) -> bool:
    inm = req.headers.get("if-none-match")
    if inm is not None and resp.etag is not None:
        tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
        return "*" in tags or resp.etag.removeprefix("W/") in tags
    ims = req.headers.get("if-modified-since")
    if ims is not None and resp.last_modified is not None:
        try:
            since = email.utils.parsedate_to_datetime(ims)
            modified = email.utils.parsedate_to_datetime(resp.last_modified)
        except (TypeError, ValueError):
            return False
        return modified <= since
    return False


def _encode(body: bytes, encoding: Encoding | None) -> bytes:
    if encoding == "gzip":
        return gzip.compress(body)
    if encoding == "deflate":
        return zlib.compress(body)
    if encoding == "raw-deflate":
        c = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        return c.compress(body) + c.flush()
    return body


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 drops the SYN of a sixth concurrent
    # connect, which the client resends a second later (a run polling 30 feeds
    # with 8 workers waited 1 s for it).
    request_queue_size = 128
    owner: LocalHTTPServer

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients that hang up are part of the tests; stay quiet about them."""


class _RequestHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        """No access log on stderr."""

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        req = RecordedRequest(
            method="GET",
            path=parts.path,
            query=parts.query,
            headers={k.lower(): v for k, v in self.headers.items()},
            time=time.monotonic(),
        )
        owner = self.server.owner
        owner._record(req)
        resp = owner._resolve(req)
        try:
            if resp.delay:
                owner.stopping.wait(resp.delay)
            self._send(req, resp)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True

    def _send(self, req: RecordedRequest, resp: Response) -> None:
        if _not_modified(req, resp):
            self.send_response(304)
            self._validators(resp)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(resp.status)
        self._validators(resp)
        if resp.content_type:
            self.send_header("Content-Type", resp.content_type)
        if resp.endless or resp.stream is not None:
            self._send_stream(resp)
            return
        body = _encode(resp.body, resp.encoding)
        if resp.encoding:
            self.send_header("Content-Encoding", resp.encoding.removeprefix("raw-"))
        headers = {"Content-Length": str(len(body)), **resp.headers}
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self._write_all(resp, _chunks(body, resp.chunk_size))

    def _validators(self, resp: Response) -> None:
        if resp.etag:
            self.send_header("ETag", resp.etag)
        if resp.last_modified:
            self.send_header("Last-Modified", resp.last_modified)

    def _send_stream(self, resp: Response) -> None:
        headers = dict(resp.headers)
        if resp.stream is not None and resp.length is not None:
            headers.setdefault("Content-Length", str(resp.length))
        else:
            headers.setdefault("Connection", "close")
            self.close_connection = True
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if resp.stream is not None:
            self._write_all(resp, iter(resp.stream()))
        else:
            self._write_all(resp, _forever(resp.endless_chunk), resp.max_seconds)

    def _write_all(
        self, resp: Response, chunks: Iterator[bytes], limit: float | None = None
    ) -> None:
        stop = self.server.owner.stopping
        start = time.monotonic()
        for chunk in chunks:
            if stop.is_set() or (limit and time.monotonic() - start > limit):
                self.close_connection = True
                return
            self.wfile.write(chunk)
            if resp.chunk_delay:
                self.wfile.flush()
                stop.wait(resp.chunk_delay)


def _chunks(body: bytes, size: int) -> Iterator[bytes]:
    for i in range(0, len(body), max(size, 1)):
        yield body[i : i + size]


def _forever(chunk: bytes) -> Iterator[bytes]:
    while True:
        yield chunk
