"""Issue #19 (start-up): what short commands must not import.

`monitor --version` and `monitor status` are the installed executable run with
``PYTHONPROFILEIMPORTTIME=1`` (Python's ``-X importtime``: every module the
process imports, on stderr).  Each heavy library or stage package named here
costs tens to hundreds of milliseconds to import, and neither command uses it:
a module-level import that pulls one back in fails this test.  `status` runs
after `init-db`, which compiled the topic rules into the cache (as every command
after the first finds them); `status` then reads them without lemmatising.
A warm `monitor run` (its feed answers 304, no digest due) loads the fetcher,
and neither the story clusterer (numpy), the digest templates (jinja2) nor the
alerts package; `monitor digest` loads no HTTP client.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.httpserver import LocalHTTPServer, Response

REPO = Path(__file__).resolve().parents[1]
MONITOR = str(Path(sys.executable).parent / "monitor")  # the installed executable

# Libraries neither command needs (HTTP, templates, numbers, queue, PostgreSQL,
# extraction, feeds, clustering, translation, morphology, encodings).
HEAVY = (
    "httpx", "httpcore", "rich", "pygments", "jinja2", "numpy", "procrastinate",
    "psycopg", "trafilatura", "lxml", "feedparser", "datasketch", "argostranslate",
    "ctranslate2", "sentencepiece", "pymorphy3", "snowballstemmer", "iuliia",
    "charset_normalizer",
)  # fmt: skip
# The package's own stages: each is loaded by the commands that run it.
STAGES = (
    "monitor.pipeline", "monitor.fetch", "monitor.extract", "monitor.feeds",
    "monitor.sources", "monitor.stories", "monitor.digest", "monitor.search",
    "monitor.alerts", "monitor.web", "monitor.queue", "monitor.mail",
)  # fmt: skip


def imported(*args: str, env: dict[str, str]) -> set[str]:
    """Every module the installed `monitor` imports running `args`."""
    done = subprocess.run(
        [MONITOR, *args],
        capture_output=True,
        text=True,
        env=env | {"PYTHONPROFILEIMPORTTIME": "1"},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    names = set()
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            names.add(line.rsplit("|", 1)[1].strip())
    assert "monitor.cli" in names, done.stderr[-3000:]  # the report was read
    return names


def loaded(names: set[str], roots: tuple[str, ...]) -> list[str]:
    """The modules of `names` that are one of `roots` or inside one."""
    return sorted(
        n for n in names if any(n == r or n.startswith(r + ".") for r in roots)
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    return environ | {"PYTHONPATH": str(REPO), "XDG_CACHE_HOME": str(tmp_path / "c")}


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """The shipped topics, one feed."""
    return write_config(tmp_path, "https://example.org/rss")


def write_config(tmp_path: Path, url: str) -> Path:
    folder = tmp_path / "config"
    folder.mkdir()
    shutil.copyfile(REPO / "config" / "topics.toml", folder / "topics.toml")
    (folder / "monitor.toml").write_text(
        f'[store]\npath = "{tmp_path / "monitor.db"}"\n'
        f'[digest]\noutput_dir = "{tmp_path / "digests"}"\n'
        "[fetch]\nallow_private = true\n[poll]\nmin_interval = 0.0\n"
    )
    (folder / "feeds.toml").write_text(
        f'[[feed]]\nname = "a"\nurl = "{url}"\n'
        'outlet = "A"\nlang = "ru"\ncountry = "KZ"\n'
    )
    return folder


def test_version_imports_no_stage_and_no_heavy_library(env: dict[str, str]):
    names = imported("--version", env=env)
    assert loaded(names, HEAVY) == []
    assert loaded(names, (*STAGES, "monitor.classify", "monitor.translate")) == []


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_status_imports_no_stage_and_no_heavy_library(
    config: Path, env: dict[str, str], backend: str, request: pytest.FixtureRequest
):
    heavy = HEAVY
    if backend == "postgresql":
        env = env | {"MONITOR_STORE_URL": request.getfixturevalue("pg_url")}
        heavy = tuple(m for m in HEAVY if m != "psycopg")
    subprocess.run(
        [MONITOR, "init-db", "--config", str(config)],
        env=env, capture_output=True, check=True, timeout=120)  # fmt: skip
    names = imported("status", "--config", str(config), env=env)
    assert loaded(names, heavy) == []
    assert loaded(names, STAGES) == []
    assert "monitor.store.contract" not in names  # it imports every stage
    # it did read the compiled rules and the database
    assert "monitor.classify" in names
    assert ("psycopg" if backend == "postgresql" else "sqlite3") in names


def test_warm_run_imports_no_clusterer_templates_or_alerts(
    http_server: LocalHTTPServer, tmp_path: Path, env: dict[str, str]
):
    http_server.route("/rss", lambda _req: Response(status=304, content_type=None))
    config = write_config(tmp_path, http_server.url("/rss"))
    first = imported("run", "-q", "--config", str(config), env=env)
    assert "monitor.digest" in first  # the first run wrote yesterday's digest
    names = imported("run", "-q", "--config", str(config), env=env)
    assert len([r for r in http_server.requests if r.path == "/rss"]) == 2
    assert "monitor.fetch" in names  # it did poll
    assert "httpx" in names
    heavy = ("numpy", "datasketch", "jinja2", "trafilatura", "argostranslate",
             "ctranslate2", "pymorphy3", "procrastinate", "psycopg")  # fmt: skip
    assert loaded(names, heavy) == []
    assert loaded(names, ("monitor.stories", "monitor.digest", "monitor.alerts")) == []
    # writing a digest makes no request: no HTTP client, no fetcher
    names = imported("digest", "--date", "today", "--no-send", "--config", str(config),
                     env=env)  # fmt: skip
    assert "jinja2" in names
    assert loaded(names, ("httpx", "httpcore", "monitor.fetch", "numpy")) == []
