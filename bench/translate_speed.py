"""Translation speed: the pipeline vs plain argostranslate vs a raw CTranslate2 batch.

Issue #3 goals, measured in one run on the same model and the same text:
- the pipeline (`monitor.translate.ArgosTranslator`) >= 3x plain
  ``argostranslate.translate.translate()`` called once per article with its defaults;
- the pipeline >= 0.85x a raw ``translate_batch`` over all sentences;
- peak memory of each; the cache effect (second pass: about zero model time).

No real ru->en model can be brought onto these machines, so the benchmark builds
one itself: a random-weight Marian transformer-base (d_model 512, 6+6 layers, 8
heads, FFN 2048, vocabulary 62.5k: the OPUS-MT ru-en shape) with `transformers`,
converted by ``ct2-transformers-converter --quantization int8`` and wrapped as an
Argos package (SentencePiece trained on the corpus text, blank spaCy pipeline for
argostranslate's sentence splitting).  A random model costs the same per token as
a trained one, but stops at random lengths, so every method decodes exactly
``--decode-length`` tokens per sentence (min = max decoding length).  Guards are
loosened for the pipeline so random output is not retried (a real model rarely is).

Each method runs in its own process (peak RSS is per method; patching stays local).

With ``--nllb`` (issue #18) it also builds a random-weight model of the
NLLB-200 distilled 600M shape (d_model 1024, 12+12 layers, 16 heads, FFN 4096,
vocabulary 256,206; tests/ct2build.py), int8, installs it as a CTranslate2
folder and runs the same pipeline with ``[translate.routes] ru = "nllb"``: the
ratio NLLB / Argos-shaped model is the cost of switching a language to NLLB.

Needs `transformers` (the ``bench`` extra)::

    .venv/bin/pip install -c constraints.txt -e '.[bench]'
    .venv/bin/python bench/translate_speed.py [--articles 50] [--decode-length 24]
    .venv/bin/python bench/translate_speed.py --nllb   # + NLLB-600M shape (~3 min build)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MONITOR_TEST_SHARED") or REPO.parent / "shared")
WMT = SHARED / "corpus" / "parallel" / "wmt20-newstest-ru-en"
FLORES = SHARED / "corpus" / "parallel" / "flores200-devtest"
VOCAB_SIZE = 62_500  # OPUS-MT ru-en
SP_VOCAB = 8_000  # what the corpus text supports; the rest of the vocabulary is filler
PACKAGE = "translate-ru_en-benchrandom-1_0"


# --------------------------------------------------------------------------- model


def build_package(work: Path, *, rebuild: bool) -> Path:
    """Build (once, cached in `work`) the random-weight Argos package; return models_dir."""
    models_dir = work / "models"
    pkg = models_dir / "packages" / PACKAGE
    if (pkg / "model" / "model.bin").is_file() and not rebuild:
        return models_dir
    shutil.rmtree(work, ignore_errors=True)
    pkg.mkdir(parents=True)
    started = time.perf_counter()
    spm = _train_sentencepiece(work)
    hf = _build_marian(work, spm)
    _convert(hf, pkg / "model")
    shutil.copy(spm, pkg / "sentencepiece.model")
    _blank_spacy(pkg / "spacy")
    meta = {
        "package_version": "1.0",
        "argos_version": "1.11",
        "from_code": "ru",
        "from_name": "Russian",
        "to_code": "en",
        "to_name": "English",
        "code": "translate-ru_en-benchrandom",
        "type": "translate",
    }
    (pkg / "metadata.json").write_text(json.dumps(meta))
    print(
        f"built random-weight Marian package in {time.perf_counter() - started:.0f}s: {pkg}"
    )
    return models_dir


def _train_sentencepiece(work: Path) -> Path:
    import sentencepiece as sp

    text = work / "spm.txt"
    lines = []
    for f in [
        WMT / "newstest2020.ru-en.ru",
        WMT / "newstest2020.ru-en.en",
        FLORES / "rus_Cyrl.txt",
        FLORES / "eng_Latn.txt",
    ]:
        lines += f.read_text(encoding="utf-8").splitlines()
    text.write_text("\n".join(lines), encoding="utf-8")
    prefix = work / "spm"
    sp.SentencePieceTrainer.train(
        input=str(text),
        model_prefix=str(prefix),
        vocab_size=SP_VOCAB,
        model_type="unigram",
        character_coverage=1.0,
        hard_vocab_limit=False,
        minloglevel=2,
        unk_id=1,
        eos_id=0,
        bos_id=-1,
        pad_id=-1,
    )
    return prefix.with_suffix(".model")


def _build_marian(work: Path, spm: Path) -> Path:
    import sentencepiece as sp
    import torch
    from transformers import MarianConfig, MarianMTModel

    pieces = [
        sp.SentencePieceProcessor(model_file=str(spm)).id_to_piece(i)
        for i in range(SP_VOCAB)
    ]
    vocab = {p: i for i, p in enumerate(pieces)}
    for i in range(len(vocab), VOCAB_SIZE - 1):
        vocab[f"<filler_{i}>"] = i
    vocab["<pad>"] = VOCAB_SIZE - 1
    config = MarianConfig(
        vocab_size=VOCAB_SIZE,
        d_model=512,
        encoder_layers=6,
        decoder_layers=6,
        encoder_attention_heads=8,
        decoder_attention_heads=8,
        encoder_ffn_dim=2048,
        decoder_ffn_dim=2048,
        max_position_embeddings=512,
        pad_token_id=VOCAB_SIZE - 1,
        eos_token_id=0,
        decoder_start_token_id=VOCAB_SIZE - 1,
        scale_embedding=True,
    )
    torch.manual_seed(0)
    hf = work / "hf"
    MarianMTModel(config).save_pretrained(hf)
    (hf / "vocab.json").write_text(json.dumps(vocab))
    shutil.copy(spm, hf / "source.spm")
    shutil.copy(spm, hf / "target.spm")
    tok_cfg = {
        "tokenizer_class": "MarianTokenizer",
        "source_lang": "ru",
        "target_lang": "en",
        "model_max_length": 512,
    }
    (hf / "tokenizer_config.json").write_text(json.dumps(tok_cfg))
    return hf


def _convert(hf: Path, out: Path) -> None:
    converter = Path(sys.executable).parent / "ct2-transformers-converter"
    shutil.rmtree(out, ignore_errors=True)
    subprocess.run(
        [
            str(converter),
            "--model",
            str(hf),
            "--output_dir",
            str(out),
            "--quantization",
            "int8",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def _blank_spacy(out: Path) -> None:
    import spacy

    spacy.blank("ru").to_disk(out)


def build_nllb_model(work: Path, models_dir: Path, *, rebuild: bool) -> None:
    """Build (once, cached in `work`) the NLLB-600M-shaped model and install it."""
    from dataclasses import replace

    from monitor.translate import install_ct2_from_dir, list_ct2_models
    from tests.ct2build import NLLB_600M, build_nllb

    folder = work / "nllb-600m-random"
    if rebuild or not (folder / "model.bin").is_file():
        started = time.perf_counter()
        text = "\n".join(
            (FLORES / f).read_text(encoding="utf-8")
            for f in ("rus_Cyrl.txt", "eng_Latn.txt")
        )
        build_nllb(
            folder,
            replace(NLLB_600M, spm_vocab=SP_VOCAB),
            text=text,
            vocab_size=256_206,
        )
        print(
            f"built random-weight NLLB-600M-shape model in {time.perf_counter() - started:.0f}s"
        )
    if rebuild or not list_ct2_models(models_dir):
        install_ct2_from_dir(folder, models_dir, sources=["ru"])


# --------------------------------------------------------------------------- articles


def load_articles(n: int) -> list[dict[str, str]]:
    """~n articles of real Russian news: consecutive WMT20 lines, title + 3-line paragraphs."""
    lines = [
        ln.strip()
        for ln in (WMT / "newstest2020.ru-en.ru")
        .read_text(encoding="utf-8")
        .splitlines()
        if ln.strip()
    ]
    per = max(2, len(lines) // n)
    articles = []
    for start in range(0, per * n, per):
        chunk = lines[start : start + per]
        if len(chunk) < 2:
            break
        body = chunk[1:]
        paragraphs = [" ".join(body[i : i + 3]) for i in range(0, len(body), 3)]
        articles.append({"title": chunk[0], "text": "\n\n".join(paragraphs)})
    return articles


# --------------------------------------------------------------------------- workers


def _units(articles: list[dict[str, str]]) -> list[str]:
    from monitor.translate import split_paragraphs, split_sentences

    out = []
    for a in articles:
        out.append(a["title"])
        for seg in split_paragraphs(a["text"]):
            if seg.translate:
                out += split_sentences(seg.text)
    return out


def worker(
    method: str,
    models_dir: Path,
    articles: list[dict[str, str]],
    length: int,
    threads: int,
) -> dict[str, Any]:
    forced = {"min_decoding_length": length, "max_decoding_length": length}
    if method == "pipeline":
        return _pipeline(models_dir, articles, forced, threads)
    if method == "nllb":
        return _pipeline(models_dir, articles, forced, threads, routes={"ru": "nllb"})
    if method == "argos":
        return _argos(models_dir, articles, forced)
    return _raw(models_dir, articles, forced, threads)


def _pipeline(
    models_dir: Path,
    articles: list[dict[str, str]],
    forced: dict[str, int],
    threads: int,
    routes: dict[str, str] | None = None,
) -> dict[str, Any]:
    from monitor.translate import (
        ArticleText,
        GuardLimits,
        LocalTranslator,
        MemoryCache,
    )

    loose = GuardLimits(
        max_cyrillic=1.0,
        min_ratio=0.0,
        max_ratio=1e9,
        max_word_repeats=10**6,
        max_ngram_repeats=10**6,
    )
    t0 = time.perf_counter()
    tr = LocalTranslator(  # routes={} with Argos alone: the ArgosTranslator path
        models_dir,
        routes=routes or {"ru": "argos"},
        threads=threads,
        cache=MemoryCache(),
        limits=loose,
        decode_options=forced,
    )
    tr.translate_article("Разминка.", "Модель загружается один раз.", "ru")
    load = time.perf_counter() - t0
    items = [ArticleText(title=a["title"], text=a["text"], src="ru") for a in articles]
    before = tr.stats.model_seconds
    t1, c1 = time.perf_counter(), time.process_time()
    tr.translate_articles(items)
    first, cpu = time.perf_counter() - t1, time.process_time() - c1
    model_first = tr.stats.model_seconds - before
    calls = tr.stats.model_calls
    t2 = time.perf_counter()
    tr.translate_articles(items)
    second = time.perf_counter() - t2
    return {
        "seconds": first,
        "cpu": cpu,
        "load": load,
        "model_seconds": model_first,
        "second_pass": second,
        "second_model_seconds": tr.stats.model_seconds - before - model_first,
        "second_calls": tr.stats.model_calls - calls,
        "retried": tr.stats.retried,
    }


def _argos(
    models_dir: Path, articles: list[dict[str, str]], forced: dict[str, int]
) -> dict[str, Any]:
    from monitor.translate import apply_argos_environment

    apply_argos_environment(models_dir)
    import argostranslate.translate as at
    import ctranslate2

    class Forced:  # the same forced decode length, through argostranslate's own call
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self.inner = ctranslate2.Translator(*args, **kwargs)

        def translate_batch(self, *args: Any, **kwargs: Any) -> Any:
            return self.inner.translate_batch(*args, **{**kwargs, **forced})

    at.ctranslate2 = types.SimpleNamespace(Translator=Forced)  # type: ignore[attr-defined]
    t0 = time.perf_counter()
    at.translate("Модель загружается один раз.", "ru", "en")
    load = time.perf_counter() - t0
    t1, c1 = time.perf_counter(), time.process_time()
    for a in articles:
        at.translate(a["title"], "ru", "en")
        at.translate(a["text"], "ru", "en")
    return {
        "seconds": time.perf_counter() - t1,
        "cpu": time.process_time() - c1,
        "load": load,
    }


def _raw(
    models_dir: Path,
    articles: list[dict[str, str]],
    forced: dict[str, int],
    threads: int,
) -> dict[str, Any]:
    import ctranslate2
    import sentencepiece as sp

    pkg = models_dir / "packages" / PACKAGE
    t0 = time.perf_counter()
    model = ctranslate2.Translator(
        str(pkg / "model"), device="cpu", compute_type="int8", intra_threads=threads
    )
    proc = sp.SentencePieceProcessor(model_file=str(pkg / "sentencepiece.model"))
    model.translate_batch(
        [proc.encode("Разминка.", out_type=str)], beam_size=2, **forced
    )
    load = time.perf_counter() - t0
    units = _units(articles)
    t1, c1 = time.perf_counter(), time.process_time()
    tokens = proc.encode(units, out_type=str)
    results = model.translate_batch(tokens, max_batch_size=32, beam_size=2, **forced)
    [proc.decode_pieces(r.hypotheses[0]) for r in results]
    return {
        "seconds": time.perf_counter() - t1,
        "cpu": time.process_time() - c1,
        "load": load,
    }


# --------------------------------------------------------------------------- driver


def _peak_mb() -> float:
    """This process's peak RSS.  Not ru_maxrss: Linux carries that across fork+exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_worker(
    method: str, args: argparse.Namespace, models_dir: Path, rnd: int
) -> dict[str, Any]:
    """Run one method on one slice of the articles in a fresh process."""
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        method,
        "--models-dir",
        str(models_dir),
    ]
    cmd += [
        "--articles",
        str(args.articles),
        "--decode-length",
        str(args.decode_length),
    ]
    cmd += ["--nllb"] if args.nllb else []
    cmd += [
        "--threads",
        str(args.threads),
        "--rounds",
        str(args.rounds),
        "--round",
        str(rnd),
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def run_rounds(args: argparse.Namespace, models_dir: Path) -> dict[str, dict[str, Any]]:
    """Each method on each 1/rounds slice of the articles, methods interleaved; summed."""
    methods: tuple[str, ...] = ("raw", "pipeline", "argos")
    if args.nllb:
        methods += ("nllb",)
    totals: dict[str, dict[str, Any]] = {
        m: {"peak_mb": 0.0, "load": 0.0} for m in methods
    }
    for rnd in range(args.rounds):
        k = rnd % len(methods)
        for method in methods[k:] + methods[:k]:
            t = totals[method]
            for key, value in run_worker(method, args, models_dir, rnd).items():
                if key in ("peak_mb", "load"):
                    t[key] = max(t[key], value)
                else:
                    t[key] = t.get(key, 0) + value
    return totals


def report(
    results: dict[str, dict[str, Any]],
    articles: list[dict[str, str]],
    models_dir: Path,
    length: int,
) -> None:
    """Print the figures and the ratios of the issue's goals."""
    import sentencepiece as sp

    units = _units(articles)
    spm = models_dir / "packages" / PACKAGE / "sentencepiece.model"
    src_tokens = sum(
        len(t) for t in sp.SentencePieceProcessor(model_file=str(spm)).encode(units)
    )
    n = len(units)
    print(
        f"{len(articles)} articles, {n} sentences, {src_tokens} source tokens, "
        f"{n * length} target tokens (decode length forced to {length})"
    )
    head = ("method", "sent/s", "src tok/s", "tgt tok/s", "CPU s", "load s", "peak MB")
    print(f"{head[0]:<22}" + "".join(f"{h:>10}" for h in head[1:]))
    for name, r in results.items():
        s = r["seconds"]
        cells = (
            n / s,
            src_tokens / s,
            n * length / s,
            r["cpu"],
            r["load"],
            r["peak_mb"],
        )
        print(f"{name:<22}" + "".join(f"{c:>10.1f}" for c in cells))
    p, a, raw = (
        results[k] for k in ("pipeline", "argostranslate plain", "raw ctranslate2")
    )
    for label, other, goal in (
        ("argostranslate plain", a, ">= 3"),
        ("raw ctranslate2", raw, ">= 0.85"),
    ):
        print(
            f"pipeline vs {label:<21} {other['seconds'] / p['seconds']:5.2f}x wall, "
            f"{other['cpu'] / p['cpu']:5.2f}x CPU time  (goal {goal})"
        )
    if "nllb pipeline" in results:
        nl = results["nllb pipeline"]
        print(
            f"nllb-600M shape vs argos (Marian base) shape, same pipeline: "
            f"{nl['seconds'] / p['seconds']:5.2f}x wall, {nl['cpu'] / p['cpu']:5.2f}x CPU"
            f" time, {nl['peak_mb']:.0f} vs {p['peak_mb']:.0f} MB peak"
        )
    print(
        f"cache: second pass {p['second_pass']:.3f}s wall, {p['second_model_seconds']:.3f}s "
        f"model time, {p['second_calls']} model calls (first pass {p['seconds']:.2f}s wall, "
        f"{p['model_seconds']:.2f}s model)"
    )
    print(
        f"load average {os.getloadavg()[0]:.1f} at the end: wall-clock ratios are as fair as "
        "the machine was quiet (rounds are interleaved); CPU-time ratios resist other load"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=50)
    parser.add_argument("--decode-length", type=int, default=24)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--rounds", type=int, default=5, help="interleaved rounds (fairer)"
    )
    parser.add_argument(
        "--work-dir", type=Path, default=Path("/tmp/monitor-bench-translate")
    )
    parser.add_argument(
        "--rebuild", action="store_true", help="rebuild the random model"
    )
    parser.add_argument("--round", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument(
        "--worker",
        choices=["pipeline", "argos", "raw", "nllb"],
        help=argparse.SUPPRESS,
    )
    parser.add_argument(
        "--nllb", action="store_true", help="also an NLLB-600M-shaped model (#18)"
    )
    parser.add_argument("--models-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not WMT.is_dir():
        sys.exit(f"../shared not found: {WMT}")
    articles = load_articles(args.articles)
    if args.worker:
        mine = articles[args.round :: args.rounds]
        result = worker(
            args.worker, args.models_dir, mine, args.decode_length, args.threads
        )
        result["peak_mb"] = _peak_mb()
        print(json.dumps(result))
        return
    try:
        import transformers  # noqa: F401
    except ImportError:
        sys.exit(
            "needs transformers: .venv/bin/pip install -c constraints.txt -e '.[bench]'"
        )
    models_dir = build_package(args.work_dir, rebuild=args.rebuild)
    if args.nllb:
        nllb_work = args.work_dir.parent / "monitor-bench-nllb"
        build_nllb_model(nllb_work, models_dir, rebuild=args.rebuild)
    totals = run_rounds(args, models_dir)
    names = {
        "pipeline": "pipeline",
        "argos": "argostranslate plain",
        "raw": "raw ctranslate2",
    }
    if args.nllb:
        names["nllb"] = "nllb pipeline"
    report(
        {names[m]: totals[m] for m in names}, articles, models_dir, args.decode_length
    )


if __name__ == "__main__":
    main()
