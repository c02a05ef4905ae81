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


def pipeline_extractor(*, dated: bool = True) -> Callable[[GoldPage], str]:
    """`extract_article` on a Page built from the corpus bytes.

    Args:
        dated: give the feed item a published date (the usual RSS case); an
            undated item also makes the extractor search the page for a date.
    """
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
        item = FeedItem(
            feed_name="bench",
            entry_id=gp.name,
            link=gp.url,
            title="",
            published=fetched if dated else None,
        )
        return extract_article(page, item, cfg).text

    return run


def baseline_extractor() -> Callable[[GoldPage], str]:
    """Bare ``trafilatura.extract`` on the raw bytes, default settings."""
    import trafilatura

    def run(gp: GoldPage) -> str:
        return trafilatura.extract(gp.body, url=gp.url) or ""

    return run


def evaluate(
    pages: list[GoldPage], extractor: Callable[[GoldPage], str]
) -> dict[str, tuple[float, float, float]]:
    """Average token P/R/F1 per corpus set."""
    scores: dict[str, list[tuple[float, float, float]]] = {}
    for gp in pages:
        scores.setdefault(gp.set, []).append(token_prf(extractor(gp), gp.gold))
    return {
        name: (
            statistics.fmean(s[0] for s in rows),
            statistics.fmean(s[1] for s in rows),
            statistics.fmean(s[2] for s in rows),
        )
        for name, rows in scores.items()
    }


def time_pair(
    pages: list[GoldPage],
    base: Callable[[GoldPage], str],
    pipe: Callable[[GoldPage], str],
    repeat: int,
) -> tuple[float, float]:
    """Seconds per 100 pages for both, interleaved page by page.

    Interleaving makes both extractors see the same machine load (other jobs
    on a shared box otherwise skew a sequential comparison).
    """
    totals = [0.0, 0.0]
    for _ in range(repeat):
        for gp in pages:
            for i, extractor in enumerate((base, pipe)):
                started = time.perf_counter()
                extractor(gp)
                totals[i] += time.perf_counter() - started
    scale = 100 / (len(pages) * repeat)
    return totals[0] * scale, totals[1] * scale


def russian_pages(pages: list[GoldPage]) -> list[GoldPage]:
    """Gold pages whose text is Russian (enough Cyrillic letters)."""
    return [p for p in pages if len(re.findall("[а-яё]", p.gold.lower())) > 200]


def mislabelled(gp: GoldPage, codec: str) -> GoldPage:
    """The page re-encoded in ``codec``; its markup still says utf-8 (if it did)."""
    from monitor.extract import decode_html

    body = decode_html(gp.body, None).encode(codec, "xmlcharrefreplace")
    return GoldPage(gp.set, gp.name, gp.url, body, gp.gold)


def decoding_report(pages: list[GoldPage]) -> None:
    """F1 on Russian pages as served and re-encoded cp1251/KOI8-R, both extractors."""
    base, pipe = baseline_extractor(), pipeline_extractor()
    print("Russian pages, mean F1 (trafilatura on bytes / pipeline):")
    for codec in ("original", "cp1251", "koi8_r"):
        variants = [
            gp if codec == "original" else mislabelled(gp, codec) for gp in pages
        ]
        f_base = statistics.fmean(token_prf(base(gp), gp.gold)[2] for gp in variants)
        f_pipe = statistics.fmean(token_prf(pipe(gp), gp.gold)[2] for gp in variants)
        print(f"  {codec:9} {f_base:.3f} / {f_pipe:.3f}  ({len(variants)} pages)")


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
    base_scores, pipe_scores = evaluate(pages, base), evaluate(pages, pipe)
    base_time, pipe_time = time_pair(pages, base, pipe, args.repeat)
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
    undated = pipeline_extractor(dated=False)
    _, undated_time = time_pair(pages, base, undated, 1)
    print(
        f"undated items (page date search with htmldate): pipeline/trafilatura = "
        f"{undated_time / base_time:.3f}"
    )
    decoding_report(russian_pages(pages))
    return 0


if __name__ == "__main__":
    sys.exit(main())
