"""Extraction quality and speed: `extract_article` vs bare `trafilatura.extract`.

Usage::

    .venv/bin/python bench/extraction.py [--repeat N]

Reads the fundus and scrapinghub-aeb pages of ../shared/corpus/article-html,
scores token-level precision/recall/F1 (bag of lower-cased word tokens)
against the gold body text for both extractors, and times both over the same
pages in the same run.  Prints per-set averages and the ratios
pipeline/baseline (goal: time ratio <= 1.2, pipeline F1 not worse).

The loaders and the scorer are also used by tests/test_extract.py.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CORPUS = SHARED / "corpus" / "article-html"
_TOKEN_RE = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class GoldPage:
    set: str
    name: str
    url: str
    body: bytes
    gold: str


def load_fundus(root: Path = CORPUS / "fundus") -> Iterator[GoldPage]:
    """fundus pages; gold = summary + section headlines + paragraphs."""
    for gold_file in sorted(root.glob("*/*.json")):
        publisher = gold_file.stem
        pages = sorted(gold_file.parent.glob(f"{publisher}_*.html.gz"))
        versions = json.loads(gold_file.read_text(encoding="utf-8"))
        meta_file = gold_file.parent / "meta.info"
        meta = (
            json.loads(meta_file.read_text(encoding="utf-8"))
            if meta_file.exists()
            else {}
        )
        keys = sorted(versions, key=_version_key)
        for page, key in zip(pages, keys, strict=False):
            body = versions[key].get("body") or {}
            parts = list(body.get("summary") or [])
            for section in body.get("sections") or []:
                parts += section.get("headline") or []
                parts += section.get("paragraphs") or []
            url = meta.get(page.name, {}).get("url", f"https://{publisher}.example/")
            yield GoldPage(
                "fundus",
                page.name,
                url,
                gzip.decompress(page.read_bytes()),
                "\n".join(parts),
            )


def _version_key(key: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", key))


def load_aeb(root: Path = CORPUS / "scrapinghub-aeb") -> Iterator[GoldPage]:
    """scrapinghub article-extraction-benchmark pages; gold = articleBody."""
    truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    for page_id, gold in sorted(truth.items()):
        path = root / "html" / f"{page_id}.html.gz"
        if path.exists():
            body = gzip.decompress(path.read_bytes())
            yield GoldPage(
                "aeb", page_id, gold.get("url") or "", body, gold["articleBody"]
            )


def token_prf(predicted: str, gold: str) -> tuple[float, float, float]:
    """Token-level precision, recall and F1 (multiset overlap of word tokens)."""
    pred = Counter(_TOKEN_RE.findall(predicted.lower()))
    ref = Counter(_TOKEN_RE.findall(gold.lower()))
    overlap = sum((pred & ref).values())
    if not pred or not ref or not overlap:
        return 0.0, 0.0, 0.0
    p = overlap / sum(pred.values())
    r = overlap / sum(ref.values())
    return p, r, 2 * p * r / (p + r)


def pipeline_extractor() -> Callable[[GoldPage], str]:
    """`extract_article` on a Page built from the corpus bytes (empty feed item)."""
    from monitor.config import ExtractConfig
    from monitor.extract import extract_article
    from monitor.models import FeedItem, Page

    cfg = ExtractConfig()
    fetched = datetime(2026, 1, 1, tzinfo=UTC)

    def run(gp: GoldPage) -> str:
        page = Page(
            requested_url=gp.url,
            final_url=gp.url,
            status=200,
            fetched_at=fetched,
            body=gp.body,
            content_type="text/html",
        )
        item = FeedItem(feed_name="bench", entry_id=gp.name, link=gp.url, title="")
        return extract_article(page, item, cfg).text

    return run


def baseline_extractor() -> Callable[[GoldPage], str]:
    """Bare ``trafilatura.extract`` on the raw bytes, default settings."""
    import trafilatura

    def run(gp: GoldPage) -> str:
        return trafilatura.extract(gp.body, url=gp.url) or ""

    return run


def evaluate(
    pages: list[GoldPage], extractor: Callable[[GoldPage], str], repeat: int = 1
) -> tuple[dict[str, tuple[float, float, float]], float]:
    """Average P/R/F1 per set and the time per 100 pages (best of ``repeat``)."""
    scores: dict[str, list[tuple[float, float, float]]] = {}
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        outputs = [extractor(gp) for gp in pages]
        best = min(best, time.perf_counter() - started)
    for gp, out in zip(pages, outputs, strict=True):
        scores.setdefault(gp.set, []).append(token_prf(out, gp.gold))
    means = {
        name: tuple(statistics.fmean(s[i] for s in rows) for i in range(3))
        for name, rows in scores.items()
    }
    return means, best / len(pages) * 100  # type: ignore[return-value]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)
    if not CORPUS.exists():
        print(f"corpus not found: {CORPUS}", file=sys.stderr)
        return 2
    sys.path.insert(0, str(REPO))
    pages = [*load_fundus(), *load_aeb()]
    print(
        f"pages: {len(pages)} (fundus {sum(p.set == 'fundus' for p in pages)}, "
        f"aeb {sum(p.set == 'aeb' for p in pages)})"
    )
    base = baseline_extractor()
    pipe = pipeline_extractor()
    for gp in pages[:3]:  # warm up: imports, py3langid model, lxml
        base(gp), pipe(gp)
    base_scores, base_time = evaluate(pages, base, args.repeat)
    pipe_scores, pipe_time = evaluate(pages, pipe, args.repeat)
    print(f"{'set':8} {'extractor':12} {'P':>6} {'R':>6} {'F1':>6}")
    for name in sorted(base_scores):
        for label, scores in (("trafilatura", base_scores), ("pipeline", pipe_scores)):
            p, r, f = scores[name]
            print(f"{name:8} {label:12} {p:6.3f} {r:6.3f} {f:6.3f}")
        ratio = pipe_scores[name][2] / base_scores[name][2]
        print(f"{name:8} F1 ratio pipeline/trafilatura = {ratio:.3f}")
    print(
        f"time per 100 pages: trafilatura {base_time:.2f}s, pipeline {pipe_time:.2f}s"
    )
    print(
        f"time ratio pipeline/trafilatura = {pipe_time / base_time:.3f} (goal <= 1.2)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
