"""Streaming body reader with a decoded-size cap and decompression-bomb guard."""

from __future__ import annotations

import io
import time
import zlib
from collections.abc import Iterable

import httpx

from ..exceptions import FetchError

CHUNK_SIZE = 64 * 1024  # raw bytes per read, and decoded bytes per inflate step
# A compressed body may expand at most this much (HTML/XML is typically 5-20x;
# zeros reach ~1000x).  Checked once RATIO_CHECK_AFTER decoded bytes are in.
MAX_COMPRESSION_RATIO = 100
RATIO_CHECK_AFTER = 1_000_000


def read_body(resp: httpx.Response, url: str, max_bytes: int, deadline: float) -> bytes:
    """Stream the body, decoding it ourselves so the decoded size stays bounded."""
    coding = resp.headers.get("Content-Encoding", "identity").strip().lower()
    length = resp.headers.get("Content-Length", "")
    if coding in ("", "identity") and length.isdigit() and int(length) > max_bytes:
        raise FetchError(
            f"body too large: Content-Length {length} > max_bytes={max_bytes}",
            resource=url,
        )
    chunks: Iterable[bytes]
    if resp.is_stream_consumed:
        # Already read and decoded by httpx: only a response built in memory, as
        # httpx.MockTransport returns for `httpx.Response(content=...)`.
        coding, chunks = "identity", [resp.content]
    else:
        chunks = resp.iter_raw(CHUNK_SIZE)
    sink = _BoundedSink(url, max_bytes, encoded=coding not in ("", "identity"))
    decoder = _Decoder(coding, url, sink)
    for raw in chunks:
        if time.monotonic() > deadline:
            raise FetchError(
                f"total timeout exceeded while reading body ({sink.size} bytes in)",
                resource=url,
            )
        sink.raw_size += len(raw)
        decoder.feed(raw)
    decoder.finish()
    return sink.getvalue()


class _BoundedSink:
    """Collects decoded bytes; raises once the cap or the expansion ratio is passed."""

    def __init__(self, url: str, max_bytes: int, *, encoded: bool) -> None:
        self.url = url
        self.max_bytes = max_bytes
        self.encoded = encoded
        self.size = 0
        self.raw_size = 0
        self._buf = io.BytesIO()  # getvalue() hands over its buffer without a copy

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.max_bytes:
            raise FetchError(
                f"body too large: more than max_bytes={self.max_bytes} "
                f"(decoded) after {self.raw_size} bytes received",
                resource=self.url,
            )
        ratio = self.size / max(self.raw_size, 1)
        if (
            self.encoded
            and self.size > RATIO_CHECK_AFTER
            and ratio > MAX_COMPRESSION_RATIO
        ):
            raise FetchError(
                f"compression ratio over {MAX_COMPRESSION_RATIO}:1 "
                f"({self.raw_size} bytes expand to more than {self.size}): "
                "refusing a likely decompression bomb",
                resource=self.url,
            )
        self._buf.write(data)

    def getvalue(self) -> bytes:
        return self._buf.getvalue()


class _Decoder:
    """gzip/deflate/identity with output produced CHUNK_SIZE at a time."""

    def __init__(self, coding: str, url: str, sink: _BoundedSink) -> None:
        if coding not in ("", "identity", "gzip", "x-gzip", "deflate"):
            raise FetchError(f"unsupported Content-Encoding {coding!r}", resource=url)
        self.coding = "gzip" if coding == "x-gzip" else coding
        self.url = url
        self.sink = sink
        self._z: zlib._Decompress | None = None
        self._started = False

    def feed(self, data: bytes) -> None:
        if self.coding in ("", "identity"):
            self.sink.write(data)
            return
        try:
            self._inflate(data)
        except zlib.error as e:
            raise FetchError(
                f"broken {self.coding} stream: {e}", resource=self.url
            ) from e

    def _inflate(self, data: bytes) -> None:
        if self._z is None:
            if not data:
                return
            self._z = zlib.decompressobj(self._wbits(data))
        while True:
            out = self._z.decompress(data, CHUNK_SIZE)
            self.sink.write(out)
            data = self._z.unconsumed_tail
            if self._z.eof:
                self._next_member(self._z.unused_data)
                return
            if not data and len(out) < CHUNK_SIZE:
                return

    def _next_member(self, rest: bytes) -> None:
        """A gzip body may hold several members; trailing junk is ignored."""
        if self.coding == "gzip" and rest[:2] == b"\x1f\x8b":
            self._z = None
            self._inflate(rest)

    def _wbits(self, first: bytes) -> int:
        if self.coding == "gzip":
            return 16 + zlib.MAX_WBITS
        # "deflate" is meant to be zlib-wrapped, but some servers send raw deflate.
        zlib_header = (
            len(first) >= 2
            and first[0] & 0x0F == 8
            and ((first[0] << 8 | first[1]) % 31 == 0)
        )
        return zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS

    def finish(self) -> None:
        if self._z is None:
            return
        try:
            self.sink.write(self._z.flush())
        except zlib.error as e:
            raise FetchError(
                f"broken {self.coding} stream: {e}", resource=self.url
            ) from e
        if not self._z.eof:
            raise FetchError(f"truncated {self.coding} stream", resource=self.url)
