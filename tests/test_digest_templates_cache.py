"""Compiled digest templates kept between processes (issue #19: start-up).

The cache is `_CompiledTemplates` under ``$XDG_CACHE_HOME/monitor``: a second
process renders from it without compiling, the output is the same, and a damaged
file or a folder that cannot be written only costs a compilation.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import jinja2
import pytest

from monitor.config import DigestConfig
from monitor.digest import Digest, _render, build_digest, render_html, render_markdown
from monitor.store import Storage
from tests.test_digest_helpers import GENERATED_AT, TOPICS, sample_db

DAY = date(2026, 3, 13)


# SQLite only: the subject is the rendered files; the same digest from both
# backends is checked against the golden files in test_digest_render.py.
@pytest.fixture
def digest() -> Digest:
    with Storage(":memory:") as s:
        sample_db(s)
        return build_digest(
            s, day=DAY, cfg=DigestConfig(), topic_order=TOPICS, now=GENERATED_AT
        )


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The names of the templates jinja2 compiles from source (a new process:
    every environment is made again)."""
    names: list[str] = []
    original = jinja2.Environment.compile

    def compile_(self: jinja2.Environment, source: str, name: str | None = None,
                 *args: Any, **kwargs: Any) -> Any:  # fmt: skip
        names.append(name or "?")
        return original(self, source, name, *args, **kwargs)

    monkeypatch.setattr(jinja2.Environment, "compile", compile_)
    _render._env.cache_clear()
    yield names
    _render._env.cache_clear()


def fresh_process() -> None:
    _render._env.cache_clear()


def cached_files(root: Path) -> list[Path]:
    return sorted(root.glob("monitor/templates-*/*/*.cache"))


def test_second_process_renders_from_the_cache(
    digest: Digest, compiles: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    first = render_html(digest), render_markdown(digest)
    assert compiles == ["digest.html", "digest.md"]
    assert [p.parent.name for p in cached_files(tmp_path)] == ["html", "md"]
    fresh_process()
    compiles.clear()
    assert (render_html(digest), render_markdown(digest)) == first
    assert compiles == []


def test_a_damaged_file_is_compiled_again(
    digest: Digest, compiles: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    expected = render_html(digest)
    (path,) = cached_files(tmp_path)
    good = path.read_bytes()
    for damage in (b"", good[:20], good[:-40], b"\x00" * 100):
        path.write_bytes(damage)
        fresh_process()
        compiles.clear()
        assert render_html(digest) == expected
        assert compiles == ["digest.html"]
        assert path.read_bytes() == good  # written again


def test_a_folder_that_cannot_be_written_is_not_used(
    digest: Digest, compiles: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    expected = render_html(digest)
    fresh_process()
    compiles.clear()
    assert render_html(digest) == expected
    assert compiles == ["digest.html"]


def test_an_edited_template_is_compiled_again(
    digest: Digest, compiles: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    templates = tmp_path / "templates"
    templates.mkdir()
    for src in _render.TEMPLATES.iterdir():
        (templates / src.name).write_bytes(src.read_bytes())
    monkeypatch.setattr(_render, "TEMPLATES", templates)
    fresh_process()
    render_html(digest)
    page = templates / "digest.html"
    page.write_text(page.read_text().replace("</body>", "<p>edited</p></body>"))
    fresh_process()
    compiles.clear()
    assert "<p>edited</p>" in render_html(digest)
    assert compiles == ["digest.html"]
