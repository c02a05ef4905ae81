"""The story stage's window load, old path against new, in one run (issue #19).

Usage::

    .venv/bin/python bench/story_window.py [--window 9000] [--new 200] [--base REV]

A synthetic stream (tests/storystream.py: generated words, no corpus) at
``window / 3`` articles a day fills a 72-hour window of about ``window``
assigned articles; then a run adds ``new`` more, as the pipeline does: load the
stored features of the window (`load_known`), build `StoryClusterer`, assign.
The stored rows are written once by each code's own `features_to_bytes`.

The *old* path is the ``monitor`` package of git revision ``--base`` (default:
the commit before issue #19's window work), exported to a temporary folder and
run in a subprocess; the *new* one is this checkout, in a subprocess too.  Both
get the same articles, are prepared side by side, then measured in turns (old,
new, old, ...: the shared machine's load falls on both); each measure is one
story stage (decode, build the clusterer, assign the new articles, and the
garbage collection of the window afterwards).  Medians of ``--rounds``.  The
bench fails (exit 1) unless every assignment (story, relation, score) of the
``new`` articles is identical.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BASE = "c917026"  # status counters committed; stories as before #19's window work

_CHILD = r"""
import gc, json, sys, time
tree, window, new = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
sys.path[:0] = [tree, REPO]
from tests.storystream import stream
from monitor.config import StoriesConfig
from monitor.stories import (StoryClusterer, compute_features, features_to_bytes,
                             load_known, window_start)
cfg = StoriesConfig()
feats = [compute_features(c, cfg) for c in stream(window + new, per_day=window // 3)]
old, batch = feats[:window], feats[window:]
clusterer = StoryClusterer(cfg)
rows = [(f.article_id, clusterer.assign(f).story_id, features_to_bytes(f)) for f in old]
since = window_start(batch, cfg, batch[-1].time)
rows = [r for r, f in zip(rows, old) if f.time >= since]
del clusterer
gc.collect()
print("ready", flush=True)
for _ in sys.stdin:  # one measured story stage per line the parent sends
    t0 = time.perf_counter()
    known = load_known(rows)
    t1 = time.perf_counter()
    c = StoryClusterer(cfg, known)
    t2 = time.perf_counter()
    out = [c.assign(f) for f in batch]
    t3 = time.perf_counter()
    del c, known
    gc.collect()  # what the window leaves to the collector is part of the cost
    t4 = time.perf_counter()
    print(json.dumps({
        "rows": len(rows), "bytes": sum(len(r[2]) for r in rows),
        "decode": t1 - t0, "build": t2 - t1, "assign": t3 - t2, "collect": t4 - t3,
        "assignments": [[a.article_id, a.story_id, str(a.relation), a.score]
                        for a in out],
    }), flush=True)
"""
STEPS = ("decode", "build", "assign", "collect")


def export(rev: str, folder: Path) -> Path:
    """The ``monitor`` package of ``rev``, unpacked under ``folder``."""
    data = subprocess.run(
        ["git", "-C", str(REPO), "archive", rev, "monitor"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def start(tree: Path, window: int, new: int) -> subprocess.Popen[str]:
    code = _CHILD.replace("REPO]", f"{str(REPO)!r}]")
    env = {**os.environ, "PYTHONPATH": ""}
    return subprocess.Popen(
        [sys.executable, "-c", code, str(tree), str(window), str(new)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip


def measure(child: subprocess.Popen[str]) -> dict[str, Any]:
    assert child.stdin is not None
    assert child.stdout is not None
    child.stdin.write("go\n")
    child.stdin.flush()
    return dict(json.loads(child.stdout.readline()))


def interleaved(old_tree: Path, window: int, new: int, rounds: int) -> list[Any]:
    """Both paths prepared side by side, then measured in turns (old, new, old,
    ...), so a change of the machine's load falls on both."""
    children = [start(old_tree, window, new), start(REPO, window, new)]
    for child in children:
        assert child.stdout is not None
        if child.stdout.readline().strip() != "ready":
            raise SystemExit("a bench process failed")
    results: list[list[dict[str, Any]]] = [[], []]
    for _ in range(rounds):
        for k, child in enumerate(children):
            results[k].append(measure(child))
    for child in children:
        assert child.stdin is not None
        child.stdin.close()
        child.wait()
    return results


def _median(runs: list[dict[str, Any]], key: str) -> float:
    if key == "total":
        return statistics.median(sum(r[s] for s in STEPS) for r in runs) * 1000
    return statistics.median(r[key] for r in runs) * 1000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--window", type=int, default=9000)
    ap.add_argument("--new", type=int, default=200)
    ap.add_argument("--base", default=BASE)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        old, new = interleaved(
            export(args.base, Path(tmp)), args.window, args.new, args.rounds
        )
    rows, size = new[0]["rows"], new[0]["bytes"]
    print(f"window: {rows} articles, {args.new} new; {args.rounds} rounds in turns;"
          f" load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print("| step | old ms | new ms | old/new |\n| --- | --- | --- | --- |")
    for key in (*STEPS, "total"):
        o, n = _median(old, key), _median(new, key)
        print(f"| {key} | {o:,.0f} | {n:,.0f} | {o / n:.2f}× |")
    print(f"stored features: {old[0]['bytes'] / rows:,.0f} bytes/article old,"
          f" {size / rows:,.0f} new")  # fmt: skip
    same = all(r["assignments"] == old[0]["assignments"] for r in old + new)
    print("assignments of the new articles: " + ("identical" if same else "DIFFER"))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
