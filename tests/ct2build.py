"""Build a random-weight model of the NLLB-200 architecture (issue #18).

An ``M2M100ForConditionalGeneration`` with an ``NllbTokenizer`` (its 202
language tokens: ``kaz_Cyrl``, ``eng_Latn`` ...) over a SentencePiece BPE model
trained on a few sentences written here, converted by
``ct2-transformers-converter`` into the folder a user would install, with
``sentencepiece.bpe.model`` copied beside ``model.bin``.  Nothing is
downloaded; the weights are random, so the output is nonsense: tests assert
the mechanism (tokens, routing, cache, guards), never quality.

Used by tests (a session fixture, tiny: seconds) and bench/translate_speed.py
(the real NLLB-600M width, when asked).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

# Sentences written for these tests, in the languages the model is asked about.
TEXT = """Президент Казахстана подписал указ о выборах.
Қазақстан Президенті сайлау туралы жарлыққа қол қойды.
Ертең Астанада жиналыс өтеді. Үкімет жаңа бағдарламаны бекітті.
Oʻzbekiston prezidenti saylov toʻgʻrisidagi farmonni imzoladi.
Ўзбекистон президенти сайлов тўғрисидаги фармонни имзолади.
Президент України підписав указ про вибори.
Кыргызстандын өкмөтү жаңы мыйзамды кабыл алды.
The president of Kazakhstan signed a decree on elections.
"""


@dataclass(frozen=True)
class Size:
    d_model: int = 16
    layers: int = 1
    heads: int = 2
    ffn: int = 32
    positions: int = 64
    spm_vocab: int = 200


TINY = Size()
# facebook/nllb-200-distilled-600M's shape (its vocabulary is 256k; ours is what
# the corpus text supports, padded with filler tokens to the same size).
NLLB_600M = Size(d_model=1024, layers=12, heads=16, ffn=4096, positions=1024)


def build_nllb(
    out: Path, size: Size = TINY, *, text: str = TEXT, vocab_size: int = 0
) -> Path:
    """Build the converted model folder at `out` (replaced); return it."""
    work = out.parent / f".{out.name}-build"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    spm = _train_spm(work, text * 20, size.spm_vocab)
    hf = _build_hf(work, spm, size, vocab_size)
    shutil.rmtree(out, ignore_errors=True)
    converter = Path(sys.executable).parent / "ct2-transformers-converter"
    subprocess.run(
        [str(converter), "--model", str(hf), "--output_dir", str(out)]
        + (["--quantization", "int8"] if size != TINY else []),
        check=True,
        capture_output=True,
    )
    shutil.copy(spm, out / "sentencepiece.bpe.model")
    shutil.rmtree(work, ignore_errors=True)
    return out


def _train_spm(work: Path, text: str, vocab: int) -> Path:
    import sentencepiece as sp

    (work / "spm.txt").write_text(text, encoding="utf-8")
    sp.SentencePieceTrainer.train(
        input=str(work / "spm.txt"),
        model_prefix=str(work / "spm"),
        vocab_size=vocab,
        model_type="bpe",  # NLLB's is BPE; transformers 5 converts only that
        character_coverage=1.0,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    return work / "spm.model"


def _build_hf(work: Path, spm: Path, size: Size, vocab_size: int) -> Path:
    import torch
    from tokenizers.models import BPE
    from transformers import (
        M2M100Config,
        M2M100ForConditionalGeneration,
        NllbTokenizer,
    )
    from transformers.convert_slow_tokenizer import SentencePieceExtractor

    pieces = SentencePieceExtractor(str(spm)).extract(BPE)
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for piece in pieces["vocab"]:
        vocab.setdefault(piece, len(vocab))
    for i in range(len(vocab), vocab_size - 210):  # filler up to a real size
        vocab[f"<filler_{i}>"] = i
    tok = NllbTokenizer(vocab=vocab, merges=pieces["merges"])
    hf = work / "hf"
    tok.save_pretrained(hf)
    config = M2M100Config(
        vocab_size=len(tok),
        d_model=size.d_model,
        encoder_layers=size.layers,
        decoder_layers=size.layers,
        encoder_attention_heads=size.heads,
        decoder_attention_heads=size.heads,
        encoder_ffn_dim=size.ffn,
        decoder_ffn_dim=size.ffn,
        max_position_embeddings=size.positions,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        decoder_start_token_id=tok.eos_token_id,
        scale_embedding=True,
    )
    torch.manual_seed(0)
    M2M100ForConditionalGeneration(config).save_pretrained(hf)
    return hf
