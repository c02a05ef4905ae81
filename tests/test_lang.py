"""Tests for monitor.lang: language detection and charset repair."""

from __future__ import annotations

import pytest

from monitor.lang import decode_text, detect_language

SENTENCES = {
    "ru": (
        "Правительство Казахстана утвердило новый план развития транспортной "
        "инфраструктуры, сообщила пресс-служба министерства в четверг."
    ),
    "en": (
        "The government of Kazakhstan approved a new plan to develop transport "
        "infrastructure, the ministry's press office said on Thursday."
    ),
    "kk": (
        "Қазақстан Үкіметі көлік инфрақұрылымын дамытудың жаңа жоспарын бекітті, "
        "деп хабарлады министрліктің баспасөз қызметі бейсенбі күні."
    ),
    "ky": (
        "Кыргыз Республикасынын өкмөтү жаңы мыйзам долбоорун жактырды, бул тууралуу "
        "министрликтин басма сөз кызматы шейшемби күнү билдирди."
    ),
    "tg": (
        "Ҳукумати Ҷумҳурии Тоҷикистон нақшаи нави рушди инфрасохтори нақлиётро "
        "тасдиқ кард, хабар дод хадамоти матбуоти вазорат рӯзи панҷшанбе."
    ),
    "uz": (
        "Ўзбекистон ҳукумати транспорт инфратузилмасини ривожлантиришнинг янги "
        "режасини тасдиқлади, деб хабар берди вазирлик матбуот хизмати."
    ),
    "uk": (
        "Уряд України затвердив новий план розвитку транспортної інфраструктури, "
        "повідомила пресслужба міністерства в четвер."
    ),
    "be": (
        "Урад Беларусі зацвердзіў новы план развіцця транспартнай інфраструктуры, "
        "паведаміла прэс-служба міністэрства ў чацвер."
    ),
}
UZ_LATIN = (
    "Oʻzbekiston hukumati transport infratuzilmasini rivojlantirishning yangi "
    "rejasini tasdiqladi va bu haqida vazirlik matbuot xizmati maʼlum qildi. "
    "Loyiha bilan bogʻliq ishlar kelgusi yil boshlanadi."
)


@pytest.mark.parametrize("lang", sorted(SENTENCES))
def test_detects_each_language(lang):
    assert detect_language(SENTENCES[lang]) == lang


@pytest.mark.parametrize("lang", sorted(SENTENCES))
def test_feed_claim_does_not_override_clear_text(lang):
    wrong = "en" if lang != "en" else "ru"
    assert detect_language(SENTENCES[lang], hint=wrong) == lang


def test_uzbek_latin():
    assert detect_language(UZ_LATIN) == "uz"
    assert detect_language(UZ_LATIN.replace("ʻ", "'")) == "uz"


def test_kazakh_name_in_russian_text_stays_russian():
    text = (
        SENTENCES["ru"] + " Об этом рассказал аким Мұхтар Әбілов на брифинге "
        "в Астане, где также выступили представители партии и общественности."
    ) * 2
    assert detect_language(text) == "ru"


def test_english_with_apostrophes_is_not_uzbek():
    text = "It's o'clock time: the minister's go-to plan wasn't approved. " * 3
    assert detect_language(text) == "en"


@pytest.mark.parametrize("text", ["", "   ", "Итоги", "12:30 — 14:00", "ОК"])
def test_short_text_falls_back_to_hint(text):
    assert detect_language(text, hint="kk") == "kk"
    assert detect_language(text) is None


def test_hint_is_normalised():
    assert detect_language("", hint="RU_ru") == "ru"
    assert detect_language("", hint=" ") is None


def test_long_text_is_capped_and_fast():
    assert detect_language(SENTENCES["ru"] * 2000) == "ru"


# --------------------------------------------------------------------- decode_text

RU = "Парламент одобрил бюджет на следующий год, сообщили в пресс-службе."


@pytest.mark.parametrize(
    ("codec", "declared", "expected_codec"),
    [
        ("utf-8", ["windows-1251"], "utf-8"),
        ("cp1251", ["utf-8"], "cp1251"),
        ("cp1251", [], "cp1251"),
        ("cp1251", [None, "bogus-codec"], "cp1251"),
        ("koi8_r", [], "koi8_r"),
        ("koi8_r", ["windows-1251"], "koi8_r"),
        ("cp1251", ["iso-8859-1"], "cp1251"),
        ("cp1251", ["koi8-r"], "cp1251"),
    ],
)
def test_decode_text_repairs_labels(codec, declared, expected_codec):
    body = (f"<p>{RU}</p>" * 5).encode(codec)
    text, used = decode_text(body, declared)
    assert RU in text
    assert used.replace("-", "_") == expected_codec.replace("-", "_")


def test_decode_text_trusts_declared_latin1():
    body = "Notícias: eleição em São Paulo e ação do governo.".encode("latin-1")
    text, used = decode_text(body, ["iso-8859-1"])
    assert "eleição" in text
    assert used == "iso8859_1"


def test_decode_text_bom():
    text, used = decode_text("привет".encode("utf-16"), ["windows-1251"])
    assert text == "привет"
    assert used.startswith("utf-16")


def test_decode_text_utf8_cut_mid_character():
    body = ("<p>" + RU + "</p>").encode() + "ж".encode()[:1]
    text, used = decode_text(body, ["windows-1251"])
    assert used == "utf-8"
    assert RU in text


def test_decode_text_utf8_with_a_few_broken_bytes():
    body = ("<p>" + RU + "</p>").encode() * 3
    body = body[:40] + b"\xff" + body[40:]
    text, used = decode_text(body, ["utf-8"])
    assert used == "utf-8"
    assert text.count(RU) >= 2
    assert 1 <= text.count("\ufffd") <= 3  # the stray byte, maybe a split character


# ----------------------------------------------------- Tatar, Bashkir (issue #18)

TT = (
    "Татарстан Республикасы Президенты яңа закон проектын хуплады, дип хәбәр "
    "итте министрлыкның матбугат хезмәте пәнҗешәмбе көнне."
)
BA = (
    "Башҡортостан Республикаһы Башлығы яңы закон проектын хупланы, тип хәбәр "
    "итте министрлыҡтың матбуғат хеҙмәте кесаҙна көндө."
)


@pytest.mark.parametrize(("text", "lang"), [(TT, "tt"), (BA, "ba")])
def test_tatar_and_bashkir_are_themselves_not_kazakh(text, lang):
    assert detect_language(text) == lang
    assert detect_language(text, hint="ru") == lang


def test_bashkir_letters_decide_even_without_ghayn():
    # ҡ (U+04A1) is Bashkir's own letter, not Kazakh қ (U+049B)
    assert (
        detect_language("Ҡала хакимиәте яңы мәктәп төҙөй, был хаҡта хәбәр ителде.")
        == "ba"
    )


FLORES_FLOORS = {  # held-out half (lines 254-506); measured 2026-12-02
    "kaz_Cyrl": ("kk", 0.97),
    "kir_Cyrl": ("ky", 0.97),
    "tgk_Cyrl": ("tg", 0.97),
    "uzn_Latn": ("uz", 0.97),
    "tuk_Latn": ("tk", 0.97),
    "ukr_Cyrl": ("uk", 0.97),
    "bel_Cyrl": ("be", 0.97),
    "tat_Cyrl": ("tt", 0.95),
    "bak_Cyrl": ("ba", 0.95),
}


@pytest.mark.parametrize("name", sorted(FLORES_FLOORS))
def test_flores_held_out_accuracy(shared_dir, name):
    path = (
        shared_dir
        / "corpus/parallel/flores200-devtest-regional"
        / f"{name}.devtest.odd"
    )
    if not path.exists():
        pytest.skip(f"../shared corpus not found: {path}")
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln]
    held_out = lines[len(lines) // 2 :]
    lang, floor = FLORES_FLOORS[name]
    right = sum(detect_language(s) == lang for s in held_out)
    assert right / len(held_out) >= floor
