"""Benchmark topic filing: speed on an archive, quality on labelled news (issue #4).

Usage:
    .venv/bin/python bench/classify.py [--repeat N] [--corpus ../shared/corpus]

Speed: the regional rules (config/topics.toml) on an "archive" made of the
corpus Russian texts (Tengrinews + Telegram contest), repeated N times; the
baseline measured in the same run is tokenising + lemmatising the same texts
(the floor any lemma-based matcher pays), so the ratio shows the cost of rule
evaluation itself.

Quality: a SEPARATE generic rule set (config/examples/generic-news.toml) with
the Telegram contest categories, single-label (highest score wins; no match ->
"other"); items labelled not_news are left out.  Also BBC 5-class and Lenta
rubrics, mapped onto the same categories (mapping printed below; classes with
no counterpart are left out).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
import tomllib
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.classify import RuleSet, compile_topics, score_article  # noqa: E402
from monitor.classify._morph import analyse  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
BBC_MAP = {
    "business": "economy",
    "entertainment": "entertainment",
    "politics": "society",
    "sport": "sports",
    "tech": "technology",
}
LENTA_MAP = {
    "Россия": "society",
    "Мир": "society",
    "Бывший СССР": "society",
    "Силовые структуры": "society",
    "Экономика": "economy",
    "Спорт": "sports",
    "Культура": "entertainment",
    "Наука и техника": "science+technology",  # one rubric for both: either counts
}

Item = tuple[
    str, str, str, str | None, str | None, str
]  # title, text, lang, t_en, x_en, gold


def load_rules(path: Path) -> RuleSet:
    return compile_topics(tomllib.loads(path.read_text(encoding="utf-8")))


def read_tsv(path: Path) -> list[dict[str, str]]:
    csv.field_size_limit(1 << 30)
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def tgcontest(corpus: Path, lang: str) -> list[Item]:
    folder = corpus / "topics" / "tgcontest-toloka-categories"
    items: list[Item] = []
    for name in (f"{lang}_cat_honey.tsv", f"{lang}_cat_training.tsv"):
        for r in read_tsv(folder / name):
            if r["GOLDEN:res"] != "not_news":
                items.append(
                    (
                        r["INPUT:title"],
                        r["INPUT:text"],
                        lang,
                        None,
                        None,
                        r["GOLDEN:res"],
                    )
                )
    return items


def tgcontest_translated(corpus: Path) -> list[Item]:
    """The en set read the pipeline's way: Russian (MT) 'original' + English text."""
    folder = corpus / "topics" / "tgcontest-toloka-categories"
    items: list[Item] = []
    for name in ("en_cat_honey.tsv", "en_cat_training.tsv"):
        for r in read_tsv(folder / name):
            if r["GOLDEN:res"] != "not_news" and r.get("INPUT:trans_text"):
                items.append(
                    (
                        r["INPUT:trans_title"],
                        r["INPUT:trans_text"],
                        "ru",
                        r["INPUT:title"],
                        r["INPUT:text"],
                        r["GOLDEN:res"],
                    )
                )
    return items


def bbc(corpus: Path) -> list[Item]:
    items: list[Item] = []
    for folder, label in BBC_MAP.items():
        for path in sorted(
            (corpus / "topics" / "bbc-news-5class" / folder).glob("*.txt")
        ):
            title, _, text = path.read_text(encoding="latin-1").partition("\n")
            items.append((title.strip(), text.strip(), "en", None, None, label))
    return items


def lenta(corpus: Path) -> list[Item]:
    folder = corpus / "topics" / "lenta-ru-headlines-2024"
    items: list[Item] = []
    for path in folder.glob("*.csv"):
        with path.open(encoding="utf-8") as f:
            for r in csv.DictReader(f):
                label = LENTA_MAP.get(r["topics"])
                if label:
                    items.append((r["titles"], "", "ru", None, None, label))
    return items


def predict(rules: RuleSet, item: Item) -> str:
    title, text, lang, title_en, text_en, _ = item
    scores = score_article(
        rules, title=title, text=text, lang=lang, title_en=title_en, text_en=text_en
    )
    filed = [s for s in scores if s.filed and s.category.facet == "topic"]
    if not filed:
        return rules.default_label or "other"
    return max(filed, key=lambda s: s.score).category.id  # max keeps the first on ties


def metrics(
    pairs: Iterable[tuple[str, str]],
) -> tuple[dict[str, tuple[float, float, float, int]], float, float]:
    """Per-class (precision, recall, F1, support), macro-F1 and accuracy."""
    pairs = list(pairs)
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for gold, pred in pairs:
        if gold == pred:
            tp[gold] += 1
        else:
            fp[pred] += 1
            fn[gold] += 1
    out = {}
    for label in sorted({g for g, _ in pairs}):
        p = tp[label] / (tp[label] + fp[label]) if tp[label] + fp[label] else 0.0
        r = tp[label] / (tp[label] + fn[label]) if tp[label] + fn[label] else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        out[label] = (p, r, f, tp[label] + fn[label])
    macro = sum(v[2] for v in out.values()) / len(out)
    return out, macro, sum(tp.values()) / len(pairs)


def evaluate(name: str, rules: RuleSet, items: list[Item]) -> dict[str, object]:
    pairs = []
    for item in items:
        gold, pred = item[5], predict(rules, item)
        if gold == "science+technology" and pred in ("science", "technology"):
            pred = gold
        pairs.append((gold, pred))
    per_class, macro, acc = metrics(pairs)
    print(f"\n{name}: n={len(items)}  macro-F1={macro:.3f}  accuracy={acc:.3f}")
    macro_p = sum(v[0] for v in per_class.values()) / len(per_class)
    macro_r = sum(v[1] for v in per_class.values()) / len(per_class)
    print(f"  macro-precision={macro_p:.3f}  macro-recall={macro_r:.3f}")
    for label, (p, r, f, n) in per_class.items():
        print(f"  {label:20s} P={p:.3f} R={r:.3f} F1={f:.3f} n={n}")
    return {
        "n": len(items),
        "macro_f1": round(macro, 4),
        "accuracy": round(acc, 4),
        "macro_precision": round(macro_p, 4),
        "macro_recall": round(macro_r, 4),
    }


def archive_texts(corpus: Path) -> list[tuple[str, str]]:
    texts = []
    path = corpus / "topics" / "tengrinews-kz-2024" / "tengrinews_articles.jsonl"
    with path.open(encoding="utf-8") as f:  # not splitlines(): texts hold U+2028
        for line in f:
            row = json.loads(line)
            texts.append((row["title"], row["content"]))
    texts += [(t, x) for t, x, *_ in tgcontest(corpus, "ru")]
    return texts


def bench_speed(
    rules: RuleSet,
    texts: list[tuple[str, str]],
    repeat: int,
    bilingual: Sequence[Item] = (),
) -> dict[str, float]:
    archive = texts * repeat
    t0 = time.perf_counter()
    for title, text in texts:  # cold: first sight of every word fills the lemma cache
        score_article(rules, title=title, text=text, lang="ru")
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    for title, text in archive:
        analyse(title)
        analyse(text)
    base = time.perf_counter() - t0
    t0 = time.perf_counter()
    for title, text in archive:
        score_article(rules, title=title, text=text, lang="ru")
    warm = time.perf_counter() - t0
    words = sum(len(analyse(t)) + len(analyse(x)) for t, x in texts) / len(texts)
    n = len(archive)
    print(
        f"\nspeed: archive of {n} articles ({len(texts)} distinct x {repeat}),"
        f" {words:.0f} words/article, {len(rules.categories)} categories"
    )
    print(f"  cold (empty lemma cache): {len(texts) / cold:8.1f} articles/s")
    print(f"  warm classify:            {n / warm:8.1f} articles/s")
    print(f"  baseline tokenise+lemmas: {n / base:8.1f} articles/s")
    print(f"  ratio classify/baseline time: {warm / base:.2f}x")
    if bilingual:
        for title, text, _, title_en, text_en, _ in bilingual:  # warm the caches
            score_article(
                rules,
                title=title,
                text=text,
                lang="ru",
                title_en=title_en,
                text_en=text_en,
            )
        t0 = time.perf_counter()
        for _ in range(repeat):
            for title, text, _, title_en, text_en, _ in bilingual:
                score_article(
                    rules,
                    title=title,
                    text=text,
                    lang="ru",
                    title_en=title_en,
                    text_en=text_en,
                )
        both = time.perf_counter() - t0
        print(
            f"  warm, ru original + en translation: {len(bilingual) * repeat / both:8.1f}"
            f" articles/s ({len(bilingual)} distinct x {repeat})"
        )
    return {
        "cold_aps": round(len(texts) / cold, 1),
        "warm_aps": round(n / warm, 1),
        "baseline_aps": round(n / base, 1),
        "ratio": round(warm / base, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if not args.corpus.is_dir():
        sys.exit(f"corpus not found: {args.corpus}")
    regional = load_rules(ROOT / "config" / "topics.toml")
    generic = load_rules(ROOT / "config" / "examples" / "generic-news.toml")
    figures: dict[str, object] = {
        "speed": bench_speed(
            regional,
            archive_texts(args.corpus),
            args.repeat,
            tgcontest_translated(args.corpus),
        )
    }
    print("\nquality: generic rule set config/examples/generic-news.toml")
    figures["tgcontest_ru"] = evaluate(
        "Telegram contest ru", generic, tgcontest(args.corpus, "ru")
    )
    figures["tgcontest_en"] = evaluate(
        "Telegram contest en", generic, tgcontest(args.corpus, "en")
    )
    figures["tgcontest_en_as_ru_plus_translation"] = evaluate(
        "Telegram contest en read as ru original + en translation",
        generic,
        tgcontest_translated(args.corpus),
    )
    figures["bbc_en"] = evaluate(
        f"BBC 5-class en (mapped {BBC_MAP})", generic, bbc(args.corpus)
    )
    figures["lenta_ru"] = evaluate(
        "Lenta rubrics ru, headlines only (mapped)", generic, lenta(args.corpus)
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
