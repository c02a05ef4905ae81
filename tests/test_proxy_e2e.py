"""End to end (issue #20): the installed `monitor` executable, one `monitor run -q`
from cron, with a feed direct, one through an HTTP proxy that wants credentials
(from the environment), one through SOCKS5 with remote DNS, and one whose primary
is down and whose mirror serves; real pproxy servers on 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.httpserver import LocalHTTPServer
from tests.proxyserver import ProxyServer, free_port
from tests.sitegen import write_config
from tests.test_cli_terminal import on_pty, visible_lines
from tests.test_proxy_routes import closing_site, tunnels

REPO = Path(__file__).resolve().parents[1]
MONITOR = Path(sys.executable).with_name("monitor")
SECRET = "e2e-Proxy-s3cret"


def monitor(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MONITOR), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=REPO,
        check=False,
    )


def set_feed(text: str, name: str, lines: str) -> str:
    return text.replace(f'name = "{name}"\n', f'name = "{name}"\n{lines}', 1)


def test_cron_run_fetches_each_feed_its_way_and_fails_over_to_a_mirror(tmp_path):
    dead = f"http://127.0.0.1:{free_port()}/rss.xml"
    with (
        LocalHTTPServer() as a,
        LocalHTTPServer() as b,
        LocalHTTPServer() as c,
        LocalHTTPServer() as m,
        ProxyServer("http", auth=f"alice:{SECRET}") as hp,
        ProxyServer("socks5") as sp,
    ):
        socks5h = sp.url.replace("socks5", "socks5h")
        mirror = closing_site(m, "court")
        feeds = [
            ("direct", closing_site(a, "protest"), "ru"),
            ("viahttp", closing_site(b, "energy"), "ru"),
            ("viasocks", closing_site(c, "protest"), "ru"),
            ("mirrored", dead, "ru"),
        ]
        write_config(tmp_path, feeds, extra="[poll]\nretry_primary_after = 3600\n")
        text = (tmp_path / "monitor.toml").read_text()
        text = text.replace("[fetch]\n", f'[fetch]\nproxy = "{hp.url}"\n', 1)
        (tmp_path / "monitor.toml").write_text(text)
        text = (tmp_path / "feeds.toml").read_text()
        text = set_feed(text, "direct", 'proxy = "none"\n')
        text = set_feed(text, "viasocks", f'proxy = "{socks5h}"\nisolate = false\n')
        text = text.replace(
            f'url = "{dead}"\n', f'urls = ["{dead}", "{mirror}"]\nproxy = "none"\n'
        )
        (tmp_path / "feeds.toml").write_text(text)
        env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
        env |= {
            "PYTHONPATH": str(REPO),
            "MONITOR_FETCH_PROXY_USERNAME": "alice",
            "MONITOR_FETCH_PROXY_PASSWORD": SECRET,
            "MONITOR_TRANSLATE_BACKEND": "none",
        }
        run = monitor(["run", "-q", "--no-digest", "--config", str(tmp_path)], env)
        status = monitor(["status", "--json", "--config", str(tmp_path)], env)
        human = monitor(["status", "--config", str(tmp_path)], env)
        http_log, socks_log = hp.log(), sp.log()
    assert run.returncode == 0, run.stderr
    assert (run.stdout, run.stderr) == ("", "")  # cron: silence means success
    report = json.loads(status.stdout)
    feeds = {f["name"]: f for f in report["feeds"]}
    assert {n: f["last_status"] for n, f in feeds.items()} == dict.fromkeys(
        ("direct", "viahttp", "viasocks", "mirrored"), "ok"
    )
    assert feeds["direct"]["served_via"] == "direct"
    assert feeds["viahttp"]["served_via"] == hp.url
    assert feeds["viasocks"]["served_via"] == socks5h
    assert feeds["mirrored"]["served_url"] == mirror
    assert feeds["mirrored"]["on_mirror"] is True
    assert report["stages"]["extract"].get("done") == 4
    # the proxies' logs: each carried its own feed (and its article page) only
    assert tunnels(http_log, b.port) == 2
    assert tunnels(socks_log, c.port) == 2
    for port in (a.port, m.port):
        assert tunnels(http_log, port) == tunnels(socks_log, port) == 0
    assert f"mirrored: served by mirror {mirror} direct" in human.stdout
    for out in (run.stderr, status.stdout, human.stdout):
        assert SECRET not in out
        assert "alice" not in out


def test_poll_on_a_terminal_counts_feeds_not_attempts(tmp_path):
    """A feed that fails over is one step of the bar, which finishes at 100%."""
    dead = f"http://127.0.0.1:{free_port()}/rss.xml"
    with LocalHTTPServer() as m, ProxyServer("socks5") as sp:
        mirror = closing_site(m, "court")
        write_config(tmp_path, [("mirrored", dead, "ru")])
        text = (
            (tmp_path / "feeds.toml")
            .read_text()
            .replace(
                f'url = "{dead}"\n',
                f'urls = ["{dead}", "{mirror}"]\n'
                f'proxy = "{sp.url.replace("socks5", "socks5h")}"\n',
            )
        )
        (tmp_path / "feeds.toml").write_text(text)
        code, out = on_pty("poll", "--config", str(tmp_path))
    assert code == 0, out
    assert "Traceback" not in out, out
    lines = visible_lines(out)
    assert any(line.startswith("poll") and line.endswith("100%") for line in lines), out
    assert lines[-1].startswith("feeds 1 ok"), lines
