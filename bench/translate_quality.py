"""Translation quality: chrF and BLEU of the pipeline vs plain argostranslate (issue #3).

Runs only when a real ru->en Argos package is installed (the random-weight test
fixture and the speed benchmark's random model do not count); otherwise it
prints one line saying so, and nothing else.  Test sets: WMT20 newstest ru-en
(Russian-original news) and FLORES-200 devtest, from ../shared/corpus/parallel/.
Goal: the pipeline loses no more than 0.5 chrF against
``argostranslate.translate.translate()`` with the same model.

    .venv/bin/python bench/translate_quality.py [--models-dir DIR] [--limit N]

``--models-dir`` defaults to ``translate.models_dir`` of config/monitor.toml.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from monitor.translate import InstalledPackage, list_installed  # noqa: E402

PARALLEL = REPO.parent / "shared" / "corpus" / "parallel"
SETS = {
    "wmt20": (
        "wmt20-newstest-ru-en/newstest2020.ru-en.ru",
        "wmt20-newstest-ru-en/newstest2020.ru-en.en",
    ),
    "flores200": ("flores200-devtest/rus_Cyrl.txt", "flores200-devtest/eng_Latn.txt"),
}
MIN_REAL_MODEL_BYTES = (
    20_000_000  # real ru->en models are 80+ MB; random test models ~1 MB
)
MAX_CHRF_LOSS = 0.5


def real_ru_en(models_dir: Path) -> InstalledPackage | None:
    """The newest installed ru->en package that actually translates.

    Random-weight models (the test fixture, the speed benchmark's model) install
    and run like real ones, so each candidate must also pass three probes: a
    trained model renders these common words; a random one does not.
    """
    candidates = [
        p
        for p in list_installed(models_dir)
        if (p.from_code, p.to_code) == ("ru", "en")
        and (p.path / "model" / "model.bin").stat().st_size >= MIN_REAL_MODEL_BYTES
    ]
    for pkg in reversed(candidates):
        if _passes_probes(pkg):
            return pkg
    return None


PROBES = (
    ("Москва — столица России.", "moscow"),
    ("Президент подписал закон.", "president"),
    ("Сегодня хорошая погода.", "weather"),
)


def _passes_probes(pkg: InstalledPackage) -> bool:
    import ctranslate2
    import sentencepiece

    model = ctranslate2.Translator(
        str(pkg.path / "model"), device="cpu", compute_type="int8"
    )
    sp = sentencepiece.SentencePieceProcessor(
        model_file=str(pkg.path / "sentencepiece.model")
    )
    tokens = sp.encode([s for s, _ in PROBES], out_type=str)
    results = model.translate_batch(tokens, beam_size=2, max_decoding_length=32)
    outputs = [sp.decode_pieces(r.hypotheses[0]).lower() for r in results]
    return sum(word in out for (_, word), out in zip(PROBES, outputs, strict=True)) >= 2


def default_models_dir() -> Path:
    from monitor.config import load_config, resolve_path

    try:
        cfg = load_config(REPO / "config")
    except Exception:  # no usable config: fall back to the default location
        return (REPO / "var" / "models").resolve()
    return resolve_path(cfg, cfg.translate.models_dir)


def read_set(name: str, limit: int | None) -> tuple[list[str], list[str]]:
    src, ref = (PARALLEL / p for p in SETS[name])
    sources = src.read_text(encoding="utf-8").splitlines()[:limit]
    refs = ref.read_text(encoding="utf-8").splitlines()[:limit]
    return sources, refs


def translate_pipeline(
    models_dir: Path, sources: list[str]
) -> tuple[list[str], float, int]:
    from monitor.translate import ArgosTranslator, ArticleText

    tr = ArgosTranslator(models_dir)
    started = time.perf_counter()
    results = tr.translate_articles(
        [ArticleText(title="", text=s, src="ru") for s in sources]
    )
    outputs = [r.text or "" for r in results]
    return outputs, time.perf_counter() - started, tr.stats.flagged


def translate_plain(models_dir: Path, sources: list[str]) -> tuple[list[str], float]:
    from monitor.translate import apply_argos_environment

    apply_argos_environment(models_dir)
    import argostranslate.translate as at

    started = time.perf_counter()
    outputs = [at.translate(s, "ru", "en") for s in sources]
    return outputs, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", type=Path)
    parser.add_argument("--limit", type=int, help="first N lines of each set")
    args = parser.parse_args()
    models_dir = args.models_dir or default_models_dir()
    pkg = real_ru_en(models_dir)
    if pkg is None:
        print(
            f"no real ru→en model is installed in {models_dir}: quality benchmark not run"
        )
        return
    import sacrebleu

    print(f"model {pkg.model_id} ({pkg.path})")
    print(
        f"{'set':<10}{'method':<22}{'chrF':>7}{'BLEU':>7}{'seconds':>9}{'flagged':>9}"
    )
    worst = 0.0
    for name in SETS:
        sources, refs = read_set(name, args.limit)
        ours, t_ours, flagged = translate_pipeline(models_dir, sources)
        plain, t_plain = translate_plain(models_dir, sources)
        scores = {}
        for method, out, secs, flags in (
            ("pipeline", ours, t_ours, flagged),
            ("argostranslate plain", plain, t_plain, 0),
        ):
            chrf = sacrebleu.corpus_chrf(out, [refs]).score
            bleu = sacrebleu.corpus_bleu(out, [refs]).score
            scores[method] = chrf
            print(
                f"{name:<10}{method:<22}{chrf:>7.2f}{bleu:>7.2f}{secs:>9.1f}{flags:>9}"
            )
        worst = max(worst, scores["argostranslate plain"] - scores["pipeline"])
    verdict = "ok" if worst <= MAX_CHRF_LOSS else "FAIL"
    print(
        f"largest chrF loss of the pipeline: {worst:.2f} (goal <= {MAX_CHRF_LOSS}): {verdict}"
    )


if __name__ == "__main__":
    main()
