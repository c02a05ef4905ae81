"""The CTranslate2 backend for NLLB-200, M2M100 and OPUS-MT folders (issue #18).

One `Ct2Engine` per installed model, used through ``ctranslate2.Translator``
and SentencePiece directly, like the Argos engine.  What differs per family is
how a sentence becomes model tokens (`encode_source`, `target_prefix`):

- NLLB:    ``kaz_Cyrl ▁pieces… </s>``, decoding starts from ``eng_Latn``;
- M2M100:  ``__kk__ ▁pieces… </s>``, decoding starts from ``__en__``;
- OPUS-MT: ``▁pieces… </s>`` (source.spm), output decoded with target.spm.

NLLB knows Uzbek only in Latin script (uzn_Latn): Cyrillic Uzbek is
transliterated first (`uzbek_latin`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from ..exceptions import TranslateError, TranslatorUnavailableError
from ._argos import (
    EngineSettings,
    model_positions,
    resolve_device,
    run_batch,
    translate_in_chunks,
)
from ._core import TranslateStats
from ._ct2models import NLLB_CODES, NLLB_SPM_NAMES, Ct2Model

logger = logging.getLogger(__name__)

# Positions kept free: the language token and </s> added around the pieces.
_ADDED_TOKENS = 2
_POSITION_MARGIN = 2
_SPECIAL = re.compile(
    r"^(?:<s>|</s>|<pad>|<unk>|<mask>|[a-z]{3}_[A-Z][a-z]{3}|__[a-z]{2,3}__|madeupword\d+)$"
)
_CYRILLIC = re.compile(r"[\u0400-\u04FF]")


def language_token(model: Ct2Model, lang: str) -> str | None:
    """The token naming `lang` to the model (None for OPUS-MT, which has none)."""
    if model.family == "nllb":
        return NLLB_CODES[lang]
    if model.family == "m2m100":
        return f"__{lang}__"
    return None


def encode_source(model: Ct2Model, src: str, pieces: list[str]) -> list[str]:
    """Model input for one sentence's SentencePiece pieces."""
    token = language_token(model, src)
    return [*([token] if token else []), *pieces, "</s>"]


def target_prefix(model: Ct2Model, dst: str) -> list[str] | None:
    """The tokens decoding starts from (the target language), if any."""
    token = language_token(model, dst)
    return [token] if token else None


def output_pieces(pieces: list[str]) -> list[str]:
    """Drop language tokens and specials from a hypothesis."""
    return [p for p in pieces if not _SPECIAL.match(p)]


_UZ_LATIN = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "yo",
    "ж": "j", "з": "z", "и": "i", "й": "y", "к": "k", "л": "l", "м": "m",
    "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u",
    "ф": "f", "х": "x", "ц": "s", "ч": "ch", "ш": "sh", "щ": "sh", "ъ": "ʼ",
    "ь": "", "ы": "i", "э": "e", "ю": "yu", "я": "ya", "ў": "oʻ", "қ": "q",
    "ғ": "gʻ", "ҳ": "h",
}  # fmt: skip
_UZ_WORD_START_E = re.compile(r"(?<![^\W\d_])([еЕ])")


def uzbek_latin(text: str) -> str:
    """Uzbek Cyrillic → the official Latin alphabet (е is "ye" at a word start)."""
    if not _CYRILLIC.search(text):
        return text
    text = _UZ_WORD_START_E.sub(lambda m: "Ye" if m.group(1) == "Е" else "ye", text)
    out = []
    for ch in text:
        latin = _UZ_LATIN.get(ch.lower())
        if latin is None:
            out.append(ch)
        elif ch.isupper():
            out.append(latin[:1].upper() + latin[1:])
        else:
            out.append(latin)
    return "".join(out)


@dataclass(frozen=True, slots=True)
class _Loaded:
    translator: Any  # ctranslate2.Translator
    source_sp: Any  # sentencepiece.SentencePieceProcessor
    target_sp: Any
    max_positions: int | None

    @property
    def max_source_pieces(self) -> int | None:
        if self.max_positions is None:
            return None
        return max(1, self.max_positions - _POSITION_MARGIN - _ADDED_TOKENS)


class Ct2Engine:
    """A `SentenceEngine` over one installed NLLB / M2M100 / OPUS-MT folder."""

    def __init__(self, model: Ct2Model, settings: EngineSettings | None = None) -> None:
        """Settings as for `ArgosEngine`; the model loads on first use, once."""
        self.model = model
        self.settings = settings or EngineSettings()
        self._loaded: _Loaded | None = None
        self._failed: TranslateError | None = None

    @property
    def name(self) -> str:
        return self.model.model_id

    @property
    def can_retry(self) -> bool:
        return True

    def pairs(self) -> frozenset[tuple[str, str]]:
        return self.model.pairs()

    def model_id(self, src: str, dst: str) -> str:
        return self.model.model_id

    def load(self) -> _Loaded:
        """Load the model once (a failure is remembered and raised again).

        Raises:
            TranslatorUnavailableError: the folder does not load.
        """
        if self._loaded is not None:
            return self._loaded
        if self._failed is not None:
            raise self._failed
        try:
            self._loaded = self._load()
        except TranslateError as e:
            self._failed = e
            raise
        return self._loaded

    def _load(self) -> _Loaded:
        import ctranslate2  # heavy: imported on first use
        import sentencepiece

        path = self.model.path
        device, compute_type = resolve_device(
            ctranslate2, self.settings.device, self.settings.compute_type
        )
        if self.model.family == "opus-mt":
            spm_files = (path / "source.spm", path / "target.spm")
        else:
            spm = next((path / n for n in NLLB_SPM_NAMES if (path / n).is_file()), None)
            spm_files = (spm or path / NLLB_SPM_NAMES[0],) * 2
        try:
            translator = ctranslate2.Translator(
                str(path),
                device=device,
                compute_type=compute_type,
                intra_threads=self.settings.threads,
                inter_threads=1,
            )
            source_sp, target_sp = (
                sentencepiece.SentencePieceProcessor(model_file=str(f))
                for f in spm_files
            )
        except (RuntimeError, ValueError, OSError) as e:
            raise TranslatorUnavailableError(
                f"cannot load model: {e}", resource=path
            ) from e
        positions = model_positions(path / "model.bin")
        logger.info(
            "loaded model=%s device=%s compute_type=%s threads=%d max_positions=%s",
            self.model.model_id,
            device,
            compute_type,
            self.settings.threads,
            positions,
        )
        return _Loaded(translator, source_sp, target_sp, positions)

    def translate(
        self,
        src: str,
        dst: str,
        sentences: list[str],
        *,
        retry: bool,
        stats: TranslateStats,
    ) -> list[str]:
        """Translate sentences in chunks of `batch_size` (see `translate_in_chunks`)."""
        if (src, dst) not in self.pairs():
            raise TranslatorUnavailableError(
                f"{self.model.name} does not translate {src}→{dst}",
                resource=self.model.path,
            )
        loaded = self.load()
        options = self.settings.options(retry=retry)
        if self.model.family == "nllb" and src == "uz":
            sentences = [uzbek_latin(s) for s in sentences]
        return translate_in_chunks(
            loaded.source_sp.encode(sentences, out_type=str),
            loaded.max_source_pieces,
            self.settings.batch_size,
            lambda chunk: self._batch(loaded, src, dst, chunk, options),
            stats,
        )

    def _batch(
        self,
        loaded: _Loaded,
        src: str,
        dst: str,
        pieces: list[list[str]],
        options: dict[str, Any],
    ) -> list[str]:
        source = [encode_source(self.model, src, p) for p in pieces]
        prefix = target_prefix(self.model, dst)
        hypotheses = run_batch(
            loaded.translator,
            source,
            target_prefix=[prefix] * len(source) if prefix else None,
            max_positions=loaded.max_positions,
            batch_size=self.settings.batch_size,
            options=options,
            resource=self.model.path,
        )
        return [self._decode(loaded, h) for h in hypotheses]

    @staticmethod
    def _decode(loaded: _Loaded, pieces: list[str]) -> str:
        text: str = loaded.target_sp.decode_pieces(output_pieces(pieces))
        return text.replace("▁", " ").strip()
