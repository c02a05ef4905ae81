"""The LibreTranslate backend: a LibreTranslate server over HTTP (issue #3).

For teams that already run one, or to move translation off the monitoring
machine.  Sentences are split, cached and guarded here exactly as for Argos and
sent as JSON arrays (LibreTranslate's batch form), `batch_size` per request.
LibreTranslate offers no decoding settings, so a guarded sentence is not
retried: it is kept in the original and flagged.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..exceptions import TranslateError, TranslatorUnavailableError
from ._core import TranslateStats

if TYPE_CHECKING:  # httpx loads with the engine: `monitor status` needs none
    import httpx

logger = logging.getLogger(__name__)


class LibreEngine:
    """A `SentenceEngine` backed by a LibreTranslate server."""

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        timeout: float = 120.0,
        *,
        batch_size: int = 32,
        client: httpx.Client | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.batch_size = batch_size
        if client is None:
            import httpx

            client = httpx.Client(timeout=timeout)
        self.client = client
        self._pairs: frozenset[tuple[str, str]] | None = None

    @property
    def name(self) -> str:
        return f"libretranslate:{urlsplit(self.url).netloc}"

    @property
    def can_retry(self) -> bool:
        return False

    def model_id(self, src: str, dst: str) -> str:
        return f"{self.name}:{src}-{dst}"

    def pairs(self) -> frozenset[tuple[str, str]]:
        """The server's pairs (asked once; an unreachable server offers none)."""
        if self._pairs is None:
            try:
                langs = self._request("GET", "/languages")
            except TranslateError as e:
                logger.warning(
                    "libretranslate unavailable url=%s error=%s", self.url, e.message
                )
                return frozenset()
            self._pairs = frozenset(
                (str(lang["code"]), str(t))
                for lang in langs
                if isinstance(lang, dict)
                for t in lang.get("targets", [])
                if t != lang.get("code")
            )
        return self._pairs

    def translate(
        self,
        src: str,
        dst: str,
        sentences: list[str],
        *,
        retry: bool,
        stats: TranslateStats,
    ) -> list[str]:
        """POST sentences to ``/translate`` in chunks of `batch_size`."""
        out: list[str] = []
        for start in range(0, len(sentences), self.batch_size):
            chunk = sentences[start : start + self.batch_size]
            body: dict[str, Any] = {
                "q": chunk,
                "source": src,
                "target": dst,
                "format": "text",
            }
            if self.api_key:
                body["api_key"] = self.api_key
            reply = self._request("POST", "/translate", json=body)
            texts = reply.get("translatedText") if isinstance(reply, dict) else None
            if not isinstance(texts, list) or len(texts) != len(chunk):
                raise TranslateError(
                    f"unexpected /translate reply: {str(reply)[:200]}",
                    resource=self.url,
                )
            out.extend(str(t) for t in texts)
            stats.model_calls += 1
        return out

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        import httpx

        try:
            response = self.client.request(method, self.url + path, **kwargs)
        except httpx.HTTPError as e:
            raise TranslatorUnavailableError(
                f"cannot reach LibreTranslate: {e}", resource=self.url
            ) from e
        if response.status_code != 200:
            detail = response.text[:200]
            raise TranslateError(
                f"LibreTranslate answered {response.status_code}: {detail}",
                resource=self.url,
            )
        try:
            return response.json()
        except ValueError as e:
            raise TranslateError(
                f"LibreTranslate sent invalid JSON: {e}", resource=self.url
            ) from e

    def close(self) -> None:
        self.client.close()
