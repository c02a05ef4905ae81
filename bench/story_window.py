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
get the same articles; the bench fails (exit 1) unless every assignment (story,
relation, score) of the ``new`` articles is identical.  Medians of 3 loads.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BASE = "c917026"  # status counters committed; stories as before #19's window work

_CHILD = r"""
import json, statistics, sys, time
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
loads, builds = [], []
for _ in range(3):
    t = time.perf_counter(); known = load_known(rows); t1 = time.perf_counter()
    c = StoryClusterer(cfg, known); t2 = time.perf_counter()
    loads.append(t1 - t); builds.append(t2 - t1)
t = time.perf_counter()
out = [c.assign(f) for f in batch]
assign = time.perf_counter() - t
print(json.dumps({
    "rows": len(rows), "bytes": sum(len(r[2]) for r in rows),
    "decode": statistics.median(loads), "build": statistics.median(builds),
    "assign": assign,
    "assignments": [[a.article_id, a.story_id, str(a.relation), a.score] for a in out],
}))
"""


def export(rev: str, folder: Path) -> Path:
    """The ``monitor`` package of ``rev``, unpacked under ``folder``."""
    data = subprocess.run(
        ["git", "-C", str(REPO), "archive", rev, "monitor"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def run(tree: Path, window: int, new: int) -> dict[str, object]:
    code = _CHILD.replace("REPO]", f"{str(REPO)!r}]")
    env = {**os.environ, "PYTHONPATH": ""}
    out = subprocess.run(
        [sys.executable, "-c", code, str(tree), str(window), str(new)],
        check=True, capture_output=True, text=True, env=env,
    ).stdout  # fmt: skip
    return dict(json.loads(out))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--window", type=int, default=9000)
    ap.add_argument("--new", type=int, default=200)
    ap.add_argument("--base", default=BASE)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        old = run(export(args.base, Path(tmp)), args.window, args.new)
    new = run(REPO, args.window, args.new)
    print(f"window: {new['rows']} articles, {args.new} new; load average"
          f" {os.getloadavg()[0]:.1f}")  # fmt: skip
    print("| step | old ms | new ms | old/new |\n| --- | --- | --- | --- |")
    for key in ("decode", "build", "assign"):
        o, n = float(old[key]) * 1000, float(new[key]) * 1000  # type: ignore[arg-type]
        print(f"| {key} | {o:,.0f} | {n:,.0f} | {o / n:.2f}× |")
    o = sum(float(old[k]) for k in ("decode", "build", "assign"))  # type: ignore[arg-type]
    n = sum(float(new[k]) for k in ("decode", "build", "assign"))  # type: ignore[arg-type]
    print(f"| story stage (decode + build + assign) | {o * 1000:,.0f} |"
          f" {n * 1000:,.0f} | {o / n:.2f}× |")  # fmt: skip
    print(
        f"stored features: {int(old['bytes']) / int(old['rows']):,.0f} bytes/article"  # type: ignore[arg-type]
        f" old, {int(new['bytes']) / int(new['rows']):,.0f} new"
    )  # type: ignore[arg-type]
    same = old["assignments"] == new["assignments"]
    print("assignments of the new articles: " + ("identical" if same else "DIFFER"))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
