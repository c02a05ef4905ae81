"""The LibreTranslate backend against a real LibreTranslate server (issue #3).

The server runs from its own virtualenv (scripts/setup_libretranslate.sh, which
CI runs) with the ../shared fixture model, on 127.0.0.1, started by this module.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from monitor.exceptions import TranslateError
from monitor.models import TranslationStatus
from monitor.translate import (
    GuardLimits,
    LibreTranslateTranslator,
    MemoryCache,
    TranslateStats,
)

REPO = Path(__file__).resolve().parents[1]
LT_VENV = Path(os.environ.get("LT_VENV", REPO / ".venv-libretranslate"))
LAUNCHER = LT_VENV / "bin" / "monitor-libretranslate"
LOOSE = GuardLimits(max_cyrillic=1.0, min_ratio=0.0, max_ratio=100.0)
START_TIMEOUT = 120.0

ARTICLE = (
    "Президент подписал указ. Выборы пройдут весной.\n\n"
    "Как сообщает пресс-служба, голосование назначено на 15 марта.\n\n"
    "Наблюдатели уже получили приглашения."
)

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def libretranslate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a LibreTranslate server with the fixture model, on 127.0.0.1."""
    if not LAUNCHER.is_file():
        pytest.skip(
            f"LibreTranslate venv not found ({LAUNCHER}):"
            " run scripts/setup_libretranslate.sh"
        )
    port = _free_port()
    log = tmp_path_factory.mktemp("lt") / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                str(LAUNCHER),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--disable-web-ui",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, proc, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_until_up(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(
                f"LibreTranslate exited with {proc.returncode}:\n"
                f"{log.read_text()[-3000:]}"
            )
        try:
            if httpx.get(url + "/languages", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    pytest.fail(
        f"LibreTranslate did not start in {START_TIMEOUT}s:\n{log.read_text()[-3000:]}"
    )


def test_libretranslate_roundtrip(libretranslate: str):
    with LibreTranslateTranslator(
        libretranslate, None, 60, limits=LOOSE, cache=MemoryCache()
    ) as tr:
        _roundtrip(tr, libretranslate)


def _roundtrip(tr: LibreTranslateTranslator, libretranslate: str) -> None:
    assert ("ru", "en") in tr.pairs()
    result = tr.translate_article("Выборы в Казахстане", ARTICLE, "ru")
    assert result.status is TranslationStatus.DONE
    assert (
        result.engine
        == f"libretranslate:127.0.0.1:{libretranslate.rsplit(':', 1)[1]}:ru-en"
    )
    assert result.title
    assert result.text is not None
    assert result.text.count("\n\n") == ARTICLE.count("\n\n")
    assert "Президент подписал" not in result.text
    assert tr.stats.model_calls == 2  # titles, then the 4 body sentences in one request
    again = tr.translate_article("Выборы в Казахстане", ARTICLE, "ru")
    assert again == result
    assert tr.stats.model_calls == 2  # all from the cache


def test_libretranslate_guards_apply(libretranslate: str):
    with LibreTranslateTranslator(libretranslate, None, 60) as tr:  # default guards
        result = tr.translate_article("Выборы", ARTICLE, "ru")
    # the fixture answers Cyrillic nonsense: kept in the original, flagged, no retry
    assert result.status is TranslationStatus.PARTIAL
    assert result.text == ARTICLE
    assert result.title is None
    assert tr.stats.retried == 0


def test_libretranslate_no_model_for_kazakh(libretranslate: str):
    kk = (
        "Мемлекет басшысы Жарлыққа қол қойды. Сайлау көктемде өтеді. "
        "Бүгін елімізде жаңа заң күшіне енді."
    )
    with LibreTranslateTranslator(libretranslate, None, 60) as tr:
        result = tr.translate_article("Жаңалықтар", kk, "ru")
    assert result.status is TranslationStatus.NO_MODEL
    assert result.note == "untranslated (no kk→en model)"


def test_libretranslate_server_down_is_one_clear_error():
    with LibreTranslateTranslator("http://127.0.0.1:9", None, 2) as tr:
        assert tr.pairs() == frozenset()
        with pytest.raises(TranslateError, match="cannot reach LibreTranslate"):
            tr.engine.translate(
                "ru", "en", ["Привет."], retry=False, stats=TranslateStats()
            )
