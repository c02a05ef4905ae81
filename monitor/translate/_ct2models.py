"""CTranslate2 model directories: NLLB-200, M2M100 and OPUS-MT (issue #18).

Layout inside ``translate.models_dir`` (beside Argos's ``packages/``)::

    models_dir/ct2/<name>/   a copy of the converted model folder, plus
                             monitor-model.json (family, languages, sha256)

A folder is what ``ct2-transformers-converter`` writes (``model.bin``,
``config.json``, ``shared_vocabulary.*``) plus the SentencePiece model(s) the
user copies in beside it:

- NLLB / M2M100: ``sentencepiece.bpe.model``; the languages are read from the
  vocabulary (``kaz_Cyrl`` ... for NLLB, ``__kk__`` ... for M2M100);
- OPUS-MT (Marian): ``source.spm`` and ``target.spm``; the model does not name
  its languages, so the installer is told them (``--src kk,uz --dst en``).

Nothing here imports ctranslate2 or touches the network.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..exceptions import TranslateError

logger = logging.getLogger(__name__)

Family = Literal["nllb", "m2m100", "opus-mt"]
FAMILIES: tuple[Family, ...] = ("nllb", "m2m100", "opus-mt")
MANIFEST = "monitor-model.json"
NLLB_SPM_NAMES = ("sentencepiece.bpe.model", "sentencepiece.model")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_M2M_TOKEN = re.compile(r"^__([a-z]{2,3})__$")

# Our language codes (what detection and feeds use) -> NLLB-200's FLORES codes.
# Uzbek is Latin in NLLB (uzn_Latn): Cyrillic Uzbek is transliterated first.
NLLB_CODES: Mapping[str, str] = {
    "en": "eng_Latn",
    "ru": "rus_Cyrl",
    "uk": "ukr_Cyrl",
    "be": "bel_Cyrl",
    "kk": "kaz_Cyrl",
    "ky": "kir_Cyrl",
    "uz": "uzn_Latn",
    "tg": "tgk_Cyrl",
    "tk": "tuk_Latn",
    "az": "azj_Latn",
    "tt": "tat_Cyrl",
    "ba": "bak_Cyrl",
    "mn": "khk_Cyrl",
    "tr": "tur_Latn",
    "fa": "pes_Arab",
    "ps": "pbt_Arab",
    "ur": "urd_Arab",
    "ug": "uig_Arab",
    "ka": "kat_Geor",
    "hy": "hye_Armn",
    "zh": "zho_Hans",
    "ar": "arb_Arab",
    "de": "deu_Latn",
    "fr": "fra_Latn",
    "es": "spa_Latn",
    "pl": "pol_Latn",
    "bg": "bul_Cyrl",
    "sr": "srp_Cyrl",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Ct2Model:
    """One installed CTranslate2 model folder."""

    name: str
    family: Family
    sources: tuple[str, ...]  # our language codes it translates from
    targets: tuple[str, ...]  # ... and into
    sha256: str  # of model.bin: the cache key changes when the weights do
    path: Path

    @property
    def model_id(self) -> str:
        """Family, name and weights hash: cache keys and the digest use it."""
        return f"{self.family}:{self.name}@{self.sha256[:10]}"

    def pairs(self) -> frozenset[tuple[str, str]]:
        return frozenset((s, t) for s in self.sources for t in self.targets if s != t)


def ct2_dir(models_dir: Path) -> Path:
    """Where installed CTranslate2 models live."""
    return models_dir / "ct2"


def is_ct2_dir(path: Path) -> bool:
    """Whether `path` looks like a CTranslate2 model folder (has ``model.bin``)."""
    return path.is_dir() and (path / "model.bin").is_file()


def install_ct2_from_dir(
    path: Path,
    models_dir: Path,
    *,
    name: str | None = None,
    sources: Iterable[str] = (),
    targets: Iterable[str] = (),
) -> Ct2Model:
    """Check a converted model folder, copy it into `models_dir`, record its languages.

    Args:
        path: the folder ``ct2-transformers-converter`` wrote, with the
            SentencePiece model(s) copied in.
        models_dir: ``translate.models_dir``.
        name: the installed name (default: the folder's name); one of the same
            name is replaced.
        sources: languages to translate from.  Required for OPUS-MT; for NLLB
            and M2M100 it narrows what the vocabulary offers.
        targets: languages to translate into (default ``en``).

    Raises:
        TranslateError: one line saying what is wrong with the folder.
    """
    path = Path(path)
    name = name or path.resolve().name
    if not _NAME_RE.match(name):
        raise TranslateError(
            f"model name {name!r} must be letters, digits, '.', '_' or '-'",
            resource=path,
        )
    wanted = tuple(s for s in sources if s.strip())
    into = tuple(t for t in targets if t.strip()) or ("en",)
    family, served = inspect_ct2_dir(path, wanted, into)
    dest_root = ct2_dir(models_dir)
    dest_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest_root, prefix=".install-") as tmp:
        staged = Path(tmp) / name
        shutil.copytree(path, staged, ignore=shutil.ignore_patterns(MANIFEST))
        manifest = {
            "name": name,
            "family": family,
            "sources": list(served[0]),
            "targets": list(served[1]),
            "sha256": _sha256(staged / "model.bin"),
            "installed_from": str(path.resolve()),
        }
        (staged / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        final = dest_root / name
        if final.exists():
            shutil.rmtree(final)
        staged.rename(final)
    model = read_ct2_model(final)
    logger.info(
        "installed ct2 model=%s family=%s sources=%s path=%s",
        model.name,
        model.family,
        ",".join(model.sources),
        final,
    )
    return model


def inspect_ct2_dir(
    path: Path, sources: tuple[str, ...], targets: tuple[str, ...]
) -> tuple[Family, tuple[tuple[str, ...], tuple[str, ...]]]:
    """The family of a model folder and the (sources, targets) it serves.

    Raises:
        TranslateError: not a model folder, no SentencePiece model, unknown
            vocabulary, or languages the model lacks.
    """
    if not path.is_dir():
        raise TranslateError("not a folder", resource=path)
    if not (path / "model.bin").is_file():
        raise TranslateError(
            "not a CTranslate2 model folder (no model.bin); convert it with "
            "ct2-transformers-converter first",
            resource=path,
        )
    if (path / "source.spm").is_file() and (path / "target.spm").is_file():
        if not sources:
            raise TranslateError(
                "an OPUS-MT model does not name its languages: give them with"
                " --src (e.g. --src kk,uz,ky)",
                resource=path,
            )
        return "opus-mt", (_codes(sources, path), _codes(targets, path))
    if not any((path / n).is_file() for n in NLLB_SPM_NAMES):
        raise TranslateError(
            "no SentencePiece model: copy sentencepiece.bpe.model (NLLB, M2M100)"
            " or source.spm and target.spm (OPUS-MT) into the folder",
            resource=path,
        )
    vocab = frozenset(read_vocabulary(path))
    family, offered = _vocabulary_languages(vocab, path)
    return family, (
        _served(sources or offered, offered, path),
        _served(targets, offered, path),
    )


def _vocabulary_languages(
    vocab: frozenset[str], path: Path
) -> tuple[Family, tuple[str, ...]]:
    nllb = tuple(code for code, token in NLLB_CODES.items() if token in vocab)
    if nllb:
        return "nllb", nllb
    m2m = tuple(sorted(m.group(1) for t in vocab if (m := _M2M_TOKEN.match(t))))
    if m2m:
        return "m2m100", m2m
    raise TranslateError(
        "the vocabulary has no language tokens (eng_Latn or __en__): neither"
        " NLLB nor M2M100; for OPUS-MT copy in source.spm and target.spm",
        resource=path,
    )


def _served(
    wanted: Iterable[str], offered: tuple[str, ...], path: Path
) -> tuple[str, ...]:
    codes = _codes(wanted, path)
    missing = [c for c in codes if c not in offered]
    if missing:
        raise TranslateError(
            f"the model has no language token for {', '.join(missing)}", resource=path
        )
    return codes


def _codes(wanted: Iterable[str], path: Path) -> tuple[str, ...]:
    codes = tuple(dict.fromkeys(c.strip().lower() for c in wanted if c.strip()))
    bad = [c for c in codes if not re.fullmatch(r"[a-z]{2,3}", c)]
    if bad:
        raise TranslateError(
            f"{', '.join(bad)}: not a language code (like kk or uz)", resource=path
        )
    return codes


def read_vocabulary(path: Path) -> list[str]:
    """The target (shared) vocabulary of a converted model folder.

    Raises:
        TranslateError: no vocabulary file, or an unreadable one.
    """
    for stem in ("shared_vocabulary", "target_vocabulary"):
        try:
            if (path / f"{stem}.json").is_file():
                tokens = json.loads((path / f"{stem}.json").read_text("utf-8"))
                return [str(t) for t in tokens]
            if (path / f"{stem}.txt").is_file():
                return (path / f"{stem}.txt").read_text("utf-8").splitlines()
        except (OSError, ValueError) as e:
            raise TranslateError(f"unreadable {stem}: {e}", resource=path) from e
    raise TranslateError(
        "no vocabulary (shared_vocabulary.json or .txt) beside model.bin",
        resource=path,
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def read_ct2_model(path: Path) -> Ct2Model:
    """Read an installed model folder's manifest.

    Raises:
        TranslateError: no or invalid manifest, or files missing.
    """
    try:
        meta: Any = json.loads((path / MANIFEST).read_text("utf-8"))
    except (OSError, ValueError) as e:
        raise TranslateError(f"unreadable {MANIFEST}: {e}", resource=path) from e
    if not isinstance(meta, dict) or meta.get("family") not in FAMILIES:
        raise TranslateError(f"{MANIFEST} names no known family", resource=path)
    if not (path / "model.bin").is_file():
        raise TranslateError("model.bin is missing", resource=path)
    return Ct2Model(
        name=str(meta.get("name") or path.name),
        family=meta["family"],
        sources=tuple(str(s) for s in meta.get("sources", ())),
        targets=tuple(str(t) for t in meta.get("targets", ("en",))),
        sha256=str(meta.get("sha256", "")),
        path=path,
    )


def list_ct2_models(models_dir: Path) -> list[Ct2Model]:
    """Installed CTranslate2 models, by family then name; broken ones are skipped
    with a warning."""
    root = ct2_dir(models_dir)
    if not root.is_dir():
        return []
    found = []
    for path in sorted(root.iterdir()):
        if not path.is_dir() or path.name.startswith("."):
            continue
        try:
            found.append(read_ct2_model(path))
        except TranslateError as e:
            logger.warning("skipping invalid model path=%s error=%s", path, e)
    return sorted(found, key=lambda m: (FAMILIES.index(m.family), m.name))


def remove_ct2_model(models_dir: Path, name: str) -> Ct2Model | None:
    """Remove the installed model called `name`; None when there is none."""
    for model in list_ct2_models(models_dir):
        if model.name == name:
            shutil.rmtree(model.path)
            logger.info("removed ct2 model=%s path=%s", model.name, model.path)
            return model
    return None
