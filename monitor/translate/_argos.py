"""The Argos backend: an installed package's CTranslate2 model, used directly.

argostranslate's own path (``translate.translate``) re-splits sentences with
Stanza/spaCy/MiniSBD and batches by 32 *tokens*, i.e. about one sentence per
CTranslate2 call (PROVENANCE.md).  Here each package's model and SentencePiece
processor are loaded once, and many sentences go into each ``translate_batch``.
argostranslate itself is never imported.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from ..exceptions import TranslateError, TranslatorUnavailableError
from ._core import TranslateStats
from ._packages import InstalledPackage, list_installed

logger = logging.getLogger(__name__)

# Settings for the second attempt at a sentence the guards rejected.
RETRY_OPTIONS: Mapping[str, Any] = {
    "beam_size": 4,
    "repetition_penalty": 1.3,
    "no_repeat_ngram_size": 3,
}


# Tokens kept free below the model's positional limit (BOS/EOS the model may add).
_POSITION_MARGIN = 2


@dataclass(frozen=True, slots=True)
class _Loaded:
    translator: Any  # ctranslate2.Translator
    sp: Any  # sentencepiece.SentencePieceProcessor
    prefix: str
    # Positions the model has encodings for (None: computed, so no hard limit).
    max_positions: int | None = None

    @property
    def max_source_tokens(self) -> int | None:
        """Longest token sequence one source "sentence" may have (issue #10.4)."""
        if self.max_positions is None:
            return None
        return max(1, self.max_positions - _POSITION_MARGIN)


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineSettings:
    """How a CTranslate2 engine (Argos or a model folder) runs its models.

    Attributes:
        threads: CPU threads per translation (``intra_threads``).
        device: ``auto`` (GPU when CTranslate2 sees one), ``cpu`` or ``cuda``.
        compute_type: CTranslate2 compute type; ``int8`` becomes ``int8_float16``
            on GPU.
        beam_size: beam width for the first attempt.
        batch_size: sentences per ``translate_batch`` chunk.
        decode_options: extra ``translate_batch`` arguments (benchmarks force the
            decode length with min/max_decoding_length).
    """

    threads: int = 2
    device: str = "auto"
    compute_type: str = "int8"
    beam_size: int = 2
    batch_size: int = 32
    decode_options: Mapping[str, Any] = field(default_factory=dict)

    def options(self, *, retry: bool) -> dict[str, Any]:
        """``translate_batch`` arguments for a first attempt or a retry."""
        options: dict[str, Any] = {"beam_size": self.beam_size, **self.decode_options}
        if retry:
            options.update(RETRY_OPTIONS)
        return options


class ArgosEngine:
    """A `SentenceEngine` over the Argos packages installed in a models folder."""

    def __init__(
        self, models_dir: Path, settings: EngineSettings | None = None
    ) -> None:
        """Find the installed packages; models are loaded on first use, once."""
        self.models_dir = models_dir
        self.settings = settings or EngineSettings()
        self.packages: dict[tuple[str, str], InstalledPackage] = {}
        for pkg in list_installed(models_dir):  # sorted by version: the newest wins
            self.packages[(pkg.from_code, pkg.to_code)] = pkg
        self._loaded: dict[tuple[str, str], _Loaded] = {}
        self._failed: dict[tuple[str, str], TranslateError] = {}

    @property
    def name(self) -> str:
        ids = sorted(p.model_id for p in self.packages.values())
        return ",".join(ids) if ids else "argos:none"

    @property
    def can_retry(self) -> bool:
        return True

    def pairs(self) -> frozenset[tuple[str, str]]:
        return frozenset(self.packages)

    def model_id(self, src: str, dst: str) -> str:
        return self.packages[(src, dst)].model_id

    def load(self, src: str, dst: str) -> _Loaded:
        """Load (once) the model for a pair.

        Raises:
            TranslateError: no package for the pair, or it failed to load (the
                error is remembered: later calls fail fast with the same error).
        """
        pair = (src, dst)
        if pair in self._loaded:
            return self._loaded[pair]
        if pair in self._failed:
            raise self._failed[pair]
        if pair not in self.packages:
            raise TranslatorUnavailableError(
                f"no {src}→{dst} model installed", resource=self.models_dir
            )
        try:
            loaded = self._load(self.packages[pair])
        except TranslateError as e:
            self._failed[pair] = e
            raise
        self._loaded[pair] = loaded
        return loaded

    def _load(self, pkg: InstalledPackage) -> _Loaded:
        import ctranslate2  # heavy: imported on first use
        import sentencepiece

        device, compute_type = self._device(ctranslate2)
        try:
            translator = ctranslate2.Translator(
                str(pkg.path / "model"),
                device=device,
                compute_type=compute_type,
                intra_threads=self.settings.threads,
                inter_threads=1,
            )
            sp = sentencepiece.SentencePieceProcessor(
                model_file=str(pkg.path / "sentencepiece.model")
            )
        except (RuntimeError, ValueError, OSError) as e:
            raise TranslatorUnavailableError(
                f"cannot load model: {e}", resource=pkg.path
            ) from e
        positions = model_positions(pkg.path / "model" / "model.bin")
        logger.info(
            "loaded model=%s device=%s compute_type=%s threads=%d max_positions=%s",
            pkg.model_id,
            device,
            compute_type,
            self.settings.threads,
            positions,
        )
        return _Loaded(
            translator=translator,
            sp=sp,
            prefix=pkg.target_prefix,
            max_positions=positions,
        )

    def _device(self, ctranslate2: Any) -> tuple[str, str]:
        return resolve_device(
            ctranslate2, self.settings.device, self.settings.compute_type
        )

    def translate(
        self,
        src: str,
        dst: str,
        sentences: list[str],
        *,
        retry: bool,
        stats: TranslateStats,
    ) -> list[str]:
        """Translate sentences, one ``translate_batch`` per `batch_size` chunk.

        Sentences are grouped by token length first (as CTranslate2 does inside
        one call), so a chunk carries little padding; outputs keep input order.
        """
        model = self.load(src, dst)
        options = self.settings.options(retry=retry)
        return translate_in_chunks(
            model.sp.encode(sentences, out_type=str),
            model.max_source_tokens,
            self.settings.batch_size,
            lambda chunk: self._batch(model, chunk, options),
            stats,
        )

    def _batch(
        self, model: _Loaded, tokens: list[list[str]], options: dict[str, Any]
    ) -> list[str]:
        prefix = [[model.prefix]] * len(tokens) if model.prefix else None
        hypotheses = run_batch(
            model.translator,
            tokens,
            target_prefix=prefix,
            max_positions=model.max_positions,
            batch_size=self.settings.batch_size,
            options=options,
            resource=self.models_dir,
        )
        return [self._decode(model, h) for h in hypotheses]

    @staticmethod
    def _decode(model: _Loaded, pieces: list[str]) -> str:
        if model.prefix and pieces[:1] == [model.prefix]:
            pieces = pieces[1:]
        text: str = model.sp.decode_pieces(pieces)
        return text.replace("▁", " ").strip()


def run_batch(
    translator: Any,
    tokens: list[list[str]],
    *,
    target_prefix: list[list[str]] | None,
    max_positions: int | None,
    batch_size: int,
    options: dict[str, Any],
    resource: object,
) -> list[list[str]]:
    """One CTranslate2 ``translate_batch`` (both model families): the best
    hypothesis of each source, as target pieces.

    Raises:
        TranslateError: CTranslate2 refused the batch.
    """
    longest = max((len(t) for t in tokens), default=0)
    # CTranslate2 stops at 256 tokens by default: long sentences would be cut;
    # but never past the positions the model has (that fails the whole batch)
    decode = max(256, 2 * longest + 10)
    if max_positions is not None:
        decode = min(decode, max_positions)
    try:
        results = translator.translate_batch(
            tokens,
            target_prefix=target_prefix,
            max_batch_size=batch_size,
            replace_unknowns=True,
            length_penalty=0.2,
            **{"max_decoding_length": decode, **options},
        )
    except (RuntimeError, ValueError) as e:
        raise TranslateError(f"translation failed: {e}", resource=resource) from e
    return [r.hypotheses[0] for r in results]


def resolve_device(ctranslate2: Any, device: str, compute_type: str) -> tuple[str, str]:
    """``auto`` → GPU when CTranslate2 sees one; int8 → int8_float16 on GPU; a
    compute type the device lacks → ``auto`` (with a warning)."""
    if device == "auto":
        device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    if device == "cuda" and compute_type == "int8":
        compute_type = "int8_float16"
    if compute_type not in ctranslate2.get_supported_compute_types(device):
        logger.warning(
            "compute_type=%s unsupported on device=%s: using auto",
            compute_type,
            device,
        )
        compute_type = "auto"
    return device, compute_type


def translate_in_chunks(
    encoded: list[list[str]],
    limit: int | None,
    batch_size: int,
    run: Callable[[list[list[str]]], list[str]],
    stats: TranslateStats,
) -> list[str]:
    """Translate token sequences, one `run` call per `batch_size` chunk.

    Over-long sequences are cut at `limit` tokens (`split_tokens`) and their
    pieces' outputs joined again.  Sequences are grouped by length first (as
    CTranslate2 does inside one call), so a chunk carries little padding;
    outputs keep input order.
    """
    tokens: list[list[str]] = []
    owner: list[int] = []  # the sentence each token sequence belongs to
    for i, seq in enumerate(encoded):
        for piece in split_tokens(seq, limit):
            tokens.append(piece)
            owner.append(i)
    if len(tokens) > len(encoded):
        logger.info(
            "split over-long sentences limit=%s sentences=%d pieces=%d",
            limit,
            len(encoded),
            len(tokens),
        )
    order = sorted(range(len(tokens)), key=lambda i: len(tokens[i]))
    texts: list[str] = [""] * len(tokens)
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        for i, text in zip(chunk, run([tokens[i] for i in chunk]), strict=True):
            texts[i] = text
        stats.model_calls += 1
    out: list[list[str]] = [[] for _ in encoded]
    for i, text in zip(owner, texts, strict=True):
        out[i].append(text)
    return [" ".join(t for t in parts if t) for parts in out]


def split_tokens(tokens: list[str], limit: int | None) -> list[list[str]]:
    """Cut a token sequence into pieces of at most `limit` tokens (issue #10.4).

    A cut prefers a word start (a SentencePiece piece beginning with ``▁``) in the
    last quarter of the window, so words are not split when it can be helped.
    """
    if limit is None or len(tokens) <= limit:
        return [tokens]
    pieces: list[list[str]] = []
    rest = tokens
    while len(rest) > limit:
        cut = limit
        for j in range(limit, limit - limit // 4, -1):
            if rest[j].startswith("▁"):
                cut = j
                break
        pieces.append(rest[:cut])
        rest = rest[cut:]
    if rest:
        pieces.append(rest)
    return pieces


def model_positions(model_bin: Path) -> int | None:
    """How many positions a CTranslate2 model has encodings for, read from its
    ``model.bin`` header (``*/position_encodings/encodings`` is [positions, d]).

    Returns None when the file stores none (sinusoidal encodings are computed
    for any length) or cannot be read: then no hard limit is applied.
    """
    try:
        with model_bin.open("rb") as f:
            shapes = _variable_shapes(f)
    except (OSError, ValueError, struct.error, UnicodeDecodeError) as e:
        logger.debug("cannot read model header path=%s error=%s", model_bin, e)
        return None
    found = [
        dims[0]
        for name, dims in shapes.items()
        if name.endswith("position_encodings/encodings") and dims
    ]
    return min(found) if found else None


def _variable_shapes(f: BinaryIO) -> dict[str, list[int]]:
    """{variable name: dims} from a CTranslate2 model.bin (format version >= 4)."""

    def read(fmt: str) -> Any:
        return struct.unpack(fmt, f.read(struct.calcsize(fmt)))[0]

    def name() -> str:
        return f.read(read("<H")).rstrip(b"\0").decode("utf-8")

    version = read("<I")
    if version < 4:
        return {}
    name()  # the spec, e.g. TransformerSpec
    read("<I")  # its revision
    shapes: dict[str, list[int]] = {}
    for _ in range(read("<I")):
        key = name()
        dims = [read("<I") for _ in range(read("<B"))]
        read("<B")  # dtype
        f.seek(read("<I"), 1)  # skip the data
        shapes[key] = dims
    for _ in range(read("<I")):  # aliases: name -> variable it shares
        alias, target = name(), name()
        if target in shapes:
            shapes[alias] = shapes[target]
    return shapes
