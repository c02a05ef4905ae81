"""Text normalisation for story matching: words, stems, shingles and entity keys.

Everything here is a pure function of its input text.  Two representations are
produced for every article:

* **words** (`normalise_words`): lowercase, ``ё`` → ``е``, punctuation
  stripped.  Shingles of these feed MinHash (near-duplicates, original language).
* **terms** (`content_terms`): stemmed content words without stopwords, plus
  number tokens (``#2019``) that are the same in every language.  They feed
  the TF-IDF cosine.

Named entities are folded into **entity keys** (`entity_keys`): capitalised
words outside sentence starts, transliterated to Latin (iuliia, Wikipedia
scheme) and reduced to a consonant skeleton, so that «Токаеву», "Tokayev" and
"Tokaev" all become ``tkv`` (issue #5: transliteration variants).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import lru_cache

import iuliia
import snowballstemmer

from ..text import MAX_WORD_CHARS

WORD_RE = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*", re.UNICODE)
SENTENCE_END_RE = re.compile(r"[.!?…]+[\"»”)]*\s+|\n+")
DIGIT_RE = re.compile(r"\d")
CYRILLIC_RE = re.compile(r"[а-яё]", re.IGNORECASE)

# Russian nominal endings stripped from names before transliteration, longest
# first («Токаевым» → «Токаев», «Астане» → «Астан»).
RU_NAME_ENDINGS = (
    "ами",
    "ями",
    "ого",
    "его",
    "ому",
    "ему",
    "ым",
    "им",
    "ом",
    "ем",
    "ой",
    "ей",
    "ах",
    "ях",
    "а",
    "я",
    "у",
    "ю",
    "е",
    "ы",
    "и",
)
EN_NAME_ENDINGS = ("'s", "’s", "a", "e", "y", "i")
SKELETON_DROP = str.maketrans("", "", "aeiouyjhw'’-")

STOPWORDS_EN = frozenset(
    """a about above after again against all also am an and any are as at be because
    been before being below between both but by can could did do does doing down
    during each few for from further had has have having he her here hers
    herself him himself his how i if in into is it its itself just me more most
    my myself no nor not now of off on once only or other our ours out over own
    same she should so some such than that the their theirs them themselves then
    there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours said
    says say told new one two also year years after according mr mrs ms monday
    tuesday wednesday thursday friday saturday sunday last first may news report
    reported reports people time week day today yesterday""".split()
)
STOPWORDS_RU = frozenset(
    """и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по
    только ее её мне было вот от меня еще ещё нет о из ему теперь когда даже ну
    вдруг ли если уже или ни быть был него до вас нибудь опять уж вам ведь там
    потом себя ничего ей может они тут где есть надо ней для мы тебя их чем была
    сам чтоб без будто чего раз тоже себе под будет ж тогда кто этот того потому
    этого какой совсем ним здесь этом один почти мой тем чтобы нее сейчас были
    куда зачем всех никогда можно при наконец два об другой хоть после над
    больше тот через эти нас про всего них какая много разве три эту моя впрочем
    хорошо свою этой перед иногда лучше чуть том нельзя такой им более всегда
    конечно всю между это также который которая которые которых которой году
    года год сообщает сообщил сообщила заявил заявила отметил отметила по словам
    время день также сегодня вчера понедельник вторник среда четверг пятница
    суббота воскресенье риа новости тасс интерфакс""".split()
)
STOPWORDS = STOPWORDS_EN | STOPWORDS_RU


def normalise_words(text: str) -> list[str]:
    """Lowercase words of ``text`` with ``ё`` folded to ``е`` and punctuation gone.

    Args:
        text: any text.

    Returns:
        The words in order; tokens longer than `MAX_WORD_CHARS` are skipped
        (not words, and quadratic to stem: issue #11).
    """
    return words_of(text.lower().replace("ё", "е"))


def words_of(text: str) -> list[str]:
    """`WORD_RE` matches of ``text`` no longer than `MAX_WORD_CHARS`."""
    return [w for w in WORD_RE.findall(text) if len(w) <= MAX_WORD_CHARS]


def normalise_title(title: str) -> str:
    """The title as compared for exact duplicates: normalised words joined by spaces."""
    return " ".join(normalise_words(title))


def shingles(words: list[str], size: int) -> set[bytes]:
    """Word ``size``-grams as UTF-8 bytes for MinHash (short text: one shingle)."""
    if not words:
        return set()
    if len(words) <= size:
        return {" ".join(words).encode("utf-8")}
    return {
        " ".join(words[i : i + size]).encode("utf-8")
        for i in range(len(words) - size + 1)
    }


@lru_cache(maxsize=4)
def _stemmer(lang: str) -> snowballstemmer.stemmer:
    return snowballstemmer.stemmer("russian" if lang == "ru" else "english")


def content_terms(words: Iterable[str], lang: str) -> list[str]:
    """Stemmed content words plus number tokens (``#2019``) from normalised words.

    Args:
        words: output of `normalise_words`.
        lang: ``"ru"`` stems with the Russian Snowball stemmer; anything else
            with the English one (Latin-script words in Russian text too).

    Returns:
        Terms in order; stopwords and one-letter words dropped.
    """
    out: list[str] = []
    for w in words:
        if DIGIT_RE.search(w):
            out.append("#" + w)
        elif len(w) > 1 and w not in STOPWORDS:
            is_ru = lang == "ru" and CYRILLIC_RE.search(w) is not None
            out.append(_stem(w, "ru" if is_ru else "en"))
    return out


@lru_cache(maxsize=262144)
def _stem(word: str, lang: str) -> str:
    # Snowball in pure Python costs ~0.2 ms a word; news vocabulary repeats.
    return str(_stemmer(lang).stemWord(word))


def _strip_ending(word: str, endings: tuple[str, ...]) -> str:
    for end in endings:
        if word.endswith(end) and len(word) - len(end) >= 3:
            return word[: -len(end)]
    return word


@lru_cache(maxsize=65536)
def entity_key(word: str) -> str:
    """Fold one capitalised word to a script-independent consonant skeleton.

    «Токаеву» → ``tkv``; "Tokayev" → ``tkv``; «Казахстана» and "Kazakhstan" →
    ``kzstn``; «Жапаров» and "Japarov" → ``jprv``.

    Args:
        word: a word as written.

    Returns:
        The key, or ``""`` when too little is left to be distinctive.
    """
    low = word.lower().replace("ё", "е")
    if CYRILLIC_RE.search(low):
        low = iuliia.WIKIPEDIA.translate(_strip_ending(low, RU_NAME_ENDINGS)).lower()
    else:
        low = _strip_ending(low, EN_NAME_ENDINGS)
    low = low.replace("zh", "j").replace("kh", "h").replace("ck", "k").replace("q", "k")
    skeleton = low.translate(SKELETON_DROP)
    collapsed = "".join(
        c for i, c in enumerate(skeleton) if i == 0 or c != skeleton[i - 1]
    )
    return collapsed if len(collapsed) >= 2 and collapsed.isalpha() else ""


def _sentences(text: str) -> Iterator[str]:
    return (s for s in SENTENCE_END_RE.split(text) if s.strip())


def _is_name(token: str) -> bool:
    return (
        token[0].isupper()
        and not token.isupper()  # acronyms do not transliterate (ОДКБ / CSTO)
        and len(token) > 2
        and token.lower() not in STOPWORDS
    )


def entity_keys(title: str, text: str) -> set[str]:
    """Keys of the named entities of an article (people, places, organisations).

    A capitalised word counts when it is not the first word of its sentence.
    The title is used only when it is not in Title Case (English headlines
    capitalise every word).

    Args:
        title: the headline.
        text: the body.

    Returns:
        The set of `entity_key` values.
    """
    parts = [text]
    title_words = words_of(title)
    capitalised = sum(1 for w in title_words if w[0].isupper())
    if title_words and capitalised <= len(title_words) / 2:
        parts.insert(0, title)
    keys: set[str] = set()
    for part in parts:
        for sentence in _sentences(part):
            for token in words_of(sentence)[1:]:
                if _is_name(token) and (key := entity_key(token)):
                    keys.add(key)
    return keys
