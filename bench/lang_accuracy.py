"""Language detection accuracy per language (issue #18).

Two sets, both from ``../shared/corpus`` (never committed):

- FLORES-200 devtest, the odd lines: Russian (``flores200-devtest/rus_Cyrl.txt``)
  and the ten regional files (``flores200-devtest-regional/*.devtest.odd``),
  506 single sentences each.  Split in two halves: lines 1-253 ("tune", the
  half any threshold was chosen on) and 254-506 ("held-out"); both reported.
- The labelled Cyrillic article pages in ``article-html/`` (MANIFEST.md):
  main text extracted with trafilatura, then detected.

Run: ``.venv/bin/python bench/lang_accuracy.py [--corpus DIR]``
"""

from __future__ import annotations

import argparse
import gzip
from collections import Counter
from pathlib import Path

import trafilatura

from monitor.lang import decode_text, detect_language

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path("/work/shared/corpus")
FLORES = {
    "kk": "kaz_Cyrl",
    "ky": "kir_Cyrl",
    "uz": "uzn_Latn",
    "tg": "tgk_Cyrl",
    "tk": "tuk_Latn",
    "uk": "ukr_Cyrl",
    "be": "bel_Cyrl",
    "tt": "tat_Cyrl",
    "ba": "bak_Cyrl",
    "az": "azj_Latn",
}
SH_WDAY = "3c6d3381ef52ca26be2fbde19c1b0fe17d85682b726dfecf5e300c1ca34546b1"
SH_GTO = "c4a3637c6696f238cf9fe1c7fbb17bbb6731a71d4f5fe399b9b4fc3294a96a6b"
PAGES = {
    "fundus/ru/Kommersant_2025_05_14.html.gz": "ru",
    "fundus/ua/Pravda_2026_01_08.html.gz": "ru",
    f"scrapinghub-aeb/html/{SH_WDAY}.html.gz": "ru",
    f"scrapinghub-aeb/html/{SH_GTO}.html.gz": "ru",
    "trafilatura-eval/html/football.ua.podolski.html.gz": "ru",
    "htmldate-mediacloud-2020/html/1523821409.html.gz": "ru",
    "htmldate-mediacloud-2020/html/1716561772.html.gz": "ru",
    "htmldate-mediacloud-2020/html/1647262025.html.gz": "ru",
    "htmldate-mediacloud-2020/html/1810559448.html.gz": "ru",
    "htmldate-mediacloud-2020/html/1628285861.html.gz": "uk",
}


def flores_lines(corpus: Path) -> dict[str, list[str]]:
    """Gold language -> its 506 FLORES sentences."""
    parallel = corpus / "parallel"
    out = {"ru": _lines(parallel / "flores200-devtest" / "rus_Cyrl.txt")}
    for lang, name in FLORES.items():
        path = parallel / "flores200-devtest-regional" / f"{name}.devtest.odd"
        out[lang] = _lines(path)
    return out


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line]


def report_flores(lines: dict[str, list[str]]) -> None:
    print("FLORES-200 devtest (odd lines), single sentences, accuracy per language")
    print(f"{'lang':<5}{'tune 1-253':>12}{'held-out 254-506':>18}  most common misses")
    for lang, sentences in lines.items():
        half = len(sentences) // 2
        cells, misses = [], Counter[str]()
        for part in (sentences[:half], sentences[half:]):
            got = [detect_language(s) for s in part]
            cells.append(f"{sum(g == lang for g in got) / len(part):.1%}")
            misses.update(str(g) for g in got if g != lang)
        top = ", ".join(f"{k} {v}" for k, v in misses.most_common(3))
        print(f"{lang:<5}{cells[0]:>12}{cells[1]:>18}  {top}")


def report_pages(corpus: Path) -> None:
    print("\nLabelled Cyrillic article pages (trafilatura main text)")
    right = 0
    for rel, gold in PAGES.items():
        body = gzip.decompress((corpus / "article-html" / rel).read_bytes())
        html, _ = decode_text(body)
        text = trafilatura.extract(html) or ""
        got = detect_language(text)
        right += got == gold
        print(f"  {gold} -> {got}  {rel}")
    print(f"pages: {right}/{len(PAGES)} right")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args()
    report_flores(flores_lines(args.corpus))
    report_pages(args.corpus)


if __name__ == "__main__":
    main()
