"""Language and text-encoding detection for article and feed text.

`detect_language` returns an ISO 639-1 code for any text, whatever the feed
claims.  py3langid handles the general case; Cyrillic text is then decided by
letter evidence, because py3langid confuses the Cyrillic languages of the
region with Russian and its Kazakh/Kyrgyz/Tajik models are weak on news text:

====  ==========================================  ==============================
lang  letters that mark it (beyond Russian ones)  rule
====  ==========================================  ==============================
ba    ә ғ ҡ ҙ ҫ ң ө ү һ                           ҡ, ҙ or ҫ
tt    ә җ ң ө ү һ (no і қ ғ ұ)                    җ; or ә without і/қ/ғ/ұ
kk    ә ғ қ ң ө ұ ү һ і                           ә or ұ, or і with ғ/қ/ң/ө/ү
ky    ң ө ү (and none of ә ғ қ ұ һ і)             ң/ө/ү only, and doubled vowels
                                                  (аа оо үү); else py3langid's
                                                  best of ky/kk/tt
tg    ғ ӣ қ ӯ ҳ ҷ                                 ӣ, ӯ or ҷ; or ҳ without ў
uz    ў қ ғ ҳ                                     ў with қ/ғ/ҳ
be    ў і (no и, щ, ъ)                            ў with і
uk    і ї є ґ                                     ї, є or ґ; or і without ы/э
====  ==========================================  ==============================

Bashkir without ҡ ҙ ҫ but with ғ is Bashkir; Tatar/Bashkir text with neither
җ nor ғ is py3langid's best of the two.  Per-language accuracy:
``bench/lang_accuracy.py`` and docs/translation.md.

A marker counts only when its letters make up at least `MARKER_SHARE` of the
Cyrillic letters (a third of that for ў), so a Kazakh name quoted in a Russian
article stays Russian.
Uzbek in Latin script is recognised by its ``oʻ``/``gʻ`` letters.  Texts with
fewer than `MIN_LETTERS` letters fall back to the hint.

`decode_text` turns bytes into text when the declared charset may be wrong
(cp1251 bodies labelled utf-8, KOI8-R, no declaration at all).  It lives here
because telling cp1251 from KOI8-R is a question about Russian letters.
"""

from __future__ import annotations

import codecs
import functools
import logging
import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

logger = logging.getLogger(__name__)

MIN_LETTERS = 25  # below this, trust the hint
MAX_CHARS = 4000  # enough to decide; keeps detection fast on long articles
MARKER_SHARE = 0.015  # a language's special letters: >= 1.5% of Cyrillic letters
MIN_CONFIDENCE = 0.5  # py3langid normalised probability needed to overrule a hint

_BA_ONLY = frozenset("ҡҙҫ")  # ҡ is not қ: Bashkir's own letter
_TT_ONLY = frozenset("җ")
_SCHWA = frozenset("ә")
_HA = frozenset("һ")  # Tatar, Bashkir; rare in Kazakh, absent from Kyrgyz
_GHAYN = frozenset("ғ")
_KK_NOT_TT = frozenset("іқғұ")  # Kazakh letters Tatar never uses
_KK_ONLY = frozenset("әұ")
_KK_ANY = frozenset("ғқңөүһ")
_KY = frozenset("ңөү")
_TG_ONLY = frozenset("ӣӯҷ")
_UZ_BE = frozenset("ў")
_UZ_TG = frozenset("қғҳ")
_UK_ONLY = frozenset("їєґ")
_RU_ONLY = frozenset("ыэъ")
_I = frozenset("і")
_CYRILLIC_LANGS = frozenset(
    {"ru", "uk", "be", "bg", "mk", "sr", "kk", "ky", "tg", "mn", "tt", "ba"}
)
_KY_LONG_VOWEL_RE = re.compile(r"(аа|оо|ээ|үү|өө|уу|ыы)", re.IGNORECASE)
_UZ_LATIN_RE = re.compile(r"\b\w*[og][ʻʼ‘’'`]\w*", re.IGNORECASE)
_UZ_LATIN_WORDS = frozenset({"va", "bilan", "uchun", "haqida", "yil", "bu", "ham"})

# --------------------------------------------------------------------- language


def detect_language(text: str, *, hint: str | None = None) -> str | None:
    """Detect the language of ``text``.

    Args:
        text: plain text (title, body...).
        hint: what the source claims (the feed's ``lang``); used for short or
            ambiguous texts.

    Returns:
        An ISO 639-1 code (``ru``, ``en``, ``kk``, ``ky``, ``tg``, ``uz``,
        ``uk``, ``be``...), the hint when the text is too short to tell, or
        None when there is neither text nor hint.
    """
    hint = _normalise_hint(hint)
    sample = text[:MAX_CHARS]
    letters = [c for c in sample if c.isalpha()]
    if len(letters) < MIN_LETTERS:
        return hint
    cyrillic = Counter(c.lower() for c in letters if _is_cyrillic(c))
    if sum(cyrillic.values()) > len(letters) / 2:
        return _cyrillic_language(cyrillic, sample)
    if _looks_uzbek_latin(sample):
        return "uz"
    lang, confidence = _identifier().classify(sample)
    if confidence < MIN_CONFIDENCE and hint is not None:
        return hint
    return str(lang)


def _normalise_hint(hint: str | None) -> str | None:
    if not hint:
        return None
    return hint.strip().lower().replace("_", "-").split("-")[0] or None


def _is_cyrillic(char: str) -> bool:
    return "\u0400" <= char <= "\u04ff" or "\u0500" <= char <= "\u052f"


def cyrillic_language(text: str) -> str:
    """The Cyrillic language of ``text`` by letter evidence alone (no hint)."""
    sample = text[:MAX_CHARS]
    counts = Counter(c.lower() for c in sample if c.isalpha() and _is_cyrillic(c))
    if not counts:
        return "ru"
    return _cyrillic_language(counts, sample)


def _cyrillic_language(counts: Counter[str], sample: str) -> str:
    total = sum(counts.values())

    def share(letters: Iterable[str]) -> float:
        return sum(counts[c] for c in letters) / total

    def has(letters: Iterable[str], minimum: float = MARKER_SHARE) -> bool:
        return share(letters) >= minimum

    if has(_TG_ONLY):
        return "tg"
    if has(_BA_ONLY):
        return "ba"
    kazakh = has(_KK_NOT_TT - _GHAYN, MARKER_SHARE / 3)
    if not kazakh and has(_GHAYN) and has(_SCHWA | _HA):
        return "ba"
    if has(_TT_ONLY):
        return "tt"
    if not kazakh and not has(_GHAYN) and has(_SCHWA | _HA):
        return _best_of(sample, ("tt", "ba"))  # Bashkir without its own letters
    if has(_UZ_BE, MARKER_SHARE / 3):  # ў is rarer, and only uz/be use it
        if has(_UZ_TG):
            return "uz"
        if has(_I):
            return "be"
    if has(_KK_ONLY) or (has(_I) and has(_KK_ANY)):
        return "kk"
    if has("ҳ"):
        return "tg"
    if has(_KY):
        return _kazakh_or_kyrgyz(sample)
    if has(_UK_ONLY) or (has(_I) and not has(_RU_ONLY)):
        return "uk"
    lang, _ = _identifier().classify(sample)
    return str(lang) if lang in _CYRILLIC_LANGS else "ru"


def _kazakh_or_kyrgyz(sample: str) -> str:
    """Only ң ө ү: Kyrgyz doubles its long vowels (аа, оо, үү), Kazakh and
    Tatar do not; otherwise py3langid's best among the three."""
    if _KY_LONG_VOWEL_RE.search(sample):
        return "ky"
    return _best_of(sample, ("ky", "kk", "tt"))


def _best_of(sample: str, candidates: tuple[str, ...]) -> str:
    """py3langid's most likely language among ``candidates`` (first if none)."""
    for lang, _ in _identifier().rank(sample):
        if lang in candidates:
            return str(lang)
    return candidates[0]


def _looks_uzbek_latin(sample: str) -> bool:
    words = re.findall(r"\w+", sample.lower())
    if not words:
        return False
    marked = len(_UZ_LATIN_RE.findall(sample))
    common = sum(1 for w in words if w in _UZ_LATIN_WORDS)
    return marked / len(words) >= 0.02 and common / len(words) >= 0.02


@functools.cache
def _identifier() -> Any:
    """The py3langid model, loaded once (about 0.3 s) on first use."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


# --------------------------------------------------------------------- encoding

CYRILLIC_CODECS = ("cp1251", "koi8_r", "iso8859_5", "cp866")  # by prevalence
UTF8_ERROR_RATIO = 50  # at most one broken sequence per 50 valid non-ASCII chars
_CYRILLIC_MARGIN = 0.2  # another Cyrillic codec must read this much better
_LATIN1_LIKE = frozenset({"latin_1", "iso8859_1", "cp1252", "ascii"})


def decode_text(body: bytes, declared: Iterable[str | None] = ()) -> tuple[str, str]:
    """Decode ``body``, repairing a wrong or missing charset declaration.

    Order: a BOM wins; then valid UTF-8 is UTF-8 (cp1251/KOI8-R Cyrillic is
    never valid UTF-8); then the declared charsets in the given order (HTTP
    header, XML/meta declaration), skipping any that fail to decode or that
    turn Russian into Latin-1 mojibake; then charset-normalizer's guess,
    with cp1251 vs KOI8-R decided by which gives mostly lower-case letters.

    Args:
        body: the raw bytes.
        declared: charset names as declared, best first; None/unknown ignored.

    Returns:
        ``(text, codec_name)``.  Never raises: the last resort is UTF-8 with
        replacement characters.
    """
    for bom, bom_codec in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(bom_codec, "replace"), bom_codec
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(body) - 3 and exc.reason == "unexpected end of data":
            return body[: exc.start].decode("utf-8"), "utf-8"  # cut mid-character
    mostly = _mostly_utf8(body)
    if mostly is not None:
        return mostly, "utf-8"
    for name in declared:
        codec = _codec(name)
        if codec is None or codec in ("utf_8", "ascii"):
            continue
        text = _try_decode(body, codec)
        if text is None or _is_cyrillic_mojibake(text, codec):
            continue
        if codec in CYRILLIC_CODECS:
            return _check_cyrillic(body, text, codec)
        return text, codec
    return _guess(body)


def _check_cyrillic(body: bytes, text: str, codec: str) -> tuple[str, str]:
    """A declared Cyrillic codec, unless another one reads clearly better."""
    better = _best_cyrillic(body)
    if better is None or better == codec:
        return text, codec
    other = body.decode(better)
    if _russian_score(other) > _russian_score(text) + _CYRILLIC_MARGIN:
        logger.info("declared charset %s overruled by %s", codec, better)
        return other, better
    return text, codec


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def _mostly_utf8(body: bytes) -> str | None:
    """UTF-8 text with a few broken bytes (a CMS cut a string mid-character).

    Text in a single-byte codec almost never forms valid multi-byte UTF-8
    sequences, so many valid ones and few invalid bytes mean UTF-8.
    """
    text = body.decode("utf-8", "replace")
    bad = text.count("\ufffd")
    valid = sum(1 for c in text if ord(c) > 127) - bad
    if valid >= 10 and bad * UTF8_ERROR_RATIO <= valid:
        logger.info("utf-8 with %d broken byte sequence(s) replaced", bad)
        return text
    return None


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name.strip().strip("\"'")).name.replace("-", "_")
    except LookupError:
        return None


def _try_decode(body: bytes, codec: str) -> str | None:
    try:
        return body.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _is_cyrillic_mojibake(text: str, codec: str) -> bool:
    """Latin-1/cp1252 decoding of Cyrillic: words made only of accented letters.

    Accented Latin languages have one or two accented letters per word; cp1251
    or KOI8-R text read as Latin-1 has nothing else.
    """
    if codec not in _LATIN1_LIKE:
        return False
    words = [w for w in re.findall(r"[^\W\d_]+", text) if not w.isascii()]
    if len(words) < 3:
        return False
    high = sum(sum(1 for c in w if not c.isascii()) for w in words)
    return high / sum(len(w) for w in words) >= 0.6


def _guess(body: bytes) -> tuple[str, str]:
    import charset_normalizer  # only for a body with no declared charset

    best = charset_normalizer.from_bytes(body[:200_000]).best()
    codec = _codec(best.encoding) if best is not None else None
    text = _try_decode(body, codec) if codec else None
    if (
        text is not None
        and codec is not None
        and (_mostly_cyrillic(text) or _is_cyrillic_mojibake(text, codec))
    ):
        codec = _best_cyrillic(body) or codec
        text = _try_decode(body, codec)
    if text is not None and codec is not None:
        return text, codec
    logger.warning("charset not recognised; decoding as utf-8 with replacement")
    return body.decode("utf-8", "replace"), "utf_8"


def _mostly_cyrillic(text: str) -> bool:
    letters = [c for c in text if c.isalpha() and not c.isascii()]
    return bool(letters) and sum(map(_is_cyrillic, letters)) >= len(letters) / 2


def _best_cyrillic(body: bytes) -> str | None:
    """The Cyrillic codec whose decoding reads most like Russian, if any does."""
    best, best_score = None, 0.5
    for codec in CYRILLIC_CODECS:
        text = _try_decode(body, codec)
        score = _russian_score(text) if text is not None else 0.0
        if score > best_score:
            best, best_score = codec, score
    return best


_FREQUENT_RU = frozenset("оеаинтсрвлкмдпуяыьгзб")


def _russian_score(text: str) -> float:
    """Share of non-ASCII letters that are frequent lower-case Russian letters.

    Correctly decoded Russian prose scores about 0.8; a wrong single-byte
    Cyrillic codec swaps cases or yields box-drawing and rare letters instead.
    """
    letters = [c for c in text if c.isalpha() and not c.isascii()]
    if not letters:
        return 0.0
    return sum(1 for c in letters if c in _FREQUENT_RU) / len(letters)
