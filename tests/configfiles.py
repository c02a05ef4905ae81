"""Config folders for the config tests: one feed, and the files they need."""

from __future__ import annotations

from pathlib import Path

FEED = """
[[feed]]
name = "tengrinews"
url = "https://tengrinews.kz/news.rss"
outlet = "Tengrinews"
lang = "ru"
country = "KZ"
"""


def write_config(
    folder: Path, monitor: str = "", feeds: str = FEED, topics: str = "", **files: str
) -> Path:
    """Write monitor.toml, feeds.toml, topics.toml and each ``name=text`` of
    `files` as ``name.toml`` into `folder`; return it."""
    texts = {"monitor": monitor, "feeds": feeds, "topics": topics, **files}
    for name, text in texts.items():
        (folder / f"{name}.toml").write_text(text, encoding="utf-8")
    return folder
