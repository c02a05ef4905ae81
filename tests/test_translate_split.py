"""Sentence splitting, language decisions and output guards (pure functions)."""

from __future__ import annotations

import pytest

from monitor.translate import (
    GuardLimits,
    check_output,
    detect_source,
    split_paragraphs,
    split_sentences,
)
from monitor.translate._guards import cyrillic_share, has_repetition


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Встреча прошла в Астане. Стороны подписали договор.",
            ["Встреча прошла в Астане.", "Стороны подписали договор."],
        ),
        (
            "В. Путин и Н. А. Назарбаев встретились. Это важно.",
            ["В. Путин и Н. А. Назарбаев встретились.", "Это важно."],
        ),
        (
            "Он прибыл в г. Алматы вчера. Завтра уедет.",
            ["Он прибыл в г. Алматы вчера.", "Завтра уедет."],
        ),
        (
            "Закон принят в 2020 г. Президент его подписал.",
            ["Закон принят в 2020 г.", "Президент его подписал."],
        ),
        (
            "Рост составил 3.5% за год. Инфляция 8,2%.",
            ["Рост составил 3.5% за год.", "Инфляция 8,2%."],
        ),
        (
            "Бюджет - 5 млн. тенге, т.е. немного. Так.",
            ["Бюджет - 5 млн. тенге, т.е. немного.", "Так."],
        ),
        (
            "«Мы готовы», — сказал он. «Когда?» — спросили его.",
            ["«Мы готовы», — сказал он.", "«Когда?» — спросили его."],
        ),
        ("Что дальше? Ждём! Итак… Всё.", ["Что дальше?", "Ждём!", "Итак…", "Всё."]),
        (
            "Он сказал: «Мы готовы.» Затем ушёл.",
            ["Он сказал: «Мы готовы.»", "Затем ушёл."],
        ),
        (
            "Купили хлеб, молоко и т. д. Потом ушли.",
            ["Купили хлеб, молоко и т. д.", "Потом ушли."],
        ),
        ("Без точки в конце", ["Без точки в конце"]),
    ],
)
def test_split_sentences_russian_news(text, expected):
    assert split_sentences(text) == expected


def test_split_sentences_cuts_run_on_text():
    text = ", ".join(["слово"] * 300)
    pieces = split_sentences(text, max_chars=200)
    assert len(pieces) > 1
    assert all(len(p) <= 200 for p in pieces)
    assert " ".join(pieces).replace(" ", "") == text.replace(" ", "")


def test_split_paragraphs_keeps_separators():
    text = "Первый абзац.\n\nВторой.\nТретий.\n \n"
    segments = split_paragraphs(text)
    assert "".join(s.text for s in segments) == text
    assert [s.text for s in segments if s.translate] == [
        "Первый абзац.",
        "Второй.",
        "Третий.",
    ]


@pytest.mark.parametrize(
    ("source", "output", "reason"),
    [
        ("Президент подписал указ.", "The president signed the decree.", None),
        ("Президент подписал указ.", "", "empty"),
        ("Президент подписал указ.", "   ", "empty"),
        (
            "Президент подписал указ о выборах.",
            "the the the the the decree",
            "repetition",
        ),
        (
            "Президент подписал указ о выборах.",
            "He said that he said that he said that",
            "repetition",
        ),
        ("Президент подписал указ о выборах.", "Signed decreeeeeeeeeeee", "repetition"),
        ("Президент подписал указ о выборах.", "ителиителиителиители", "repetition"),
        (
            "Да.",
            "Yes, the president has signed a very long decree on everything today.",
            "too long",
        ),
        (
            "Президент подписал указ о выборах в парламент страны в марте.",
            "OK",
            "too short",
        ),
        (
            "Президент подписал указ о выборах.",
            "Президент signed указ о выборах.",
            "cyrillic",
        ),
        ("Да.", "Yes.", None),
        ("Токаев.", "Tokayev.", None),
    ],
)
def test_guards(source, output, reason):
    assert check_output(source, output) == reason


def test_guards_accept_repetition_present_in_source():
    assert check_output("Ха-ха-ха-ха, сказал он.", "Ha-ha-ha-ha, he said.") is None


def test_guard_limits_are_configurable():
    loose = GuardLimits(max_cyrillic=1.0)
    assert (
        check_output(
            "Президент подписал указ.", "Президент подписал указ.", limits=loose
        )
        is None
    )
    assert (
        check_output(
            "Президент подписал указ.", "Президент подписал указ.", target="ru"
        )
        is None
    )


def test_guard_helpers():
    assert cyrillic_share("abc") == 0.0
    assert cyrillic_share("Путин met Токаев") == pytest.approx(11 / 14)
    assert has_repetition("one two one two one two")
    assert not has_repetition("one two three one two four")


@pytest.mark.parametrize(
    ("src", "title", "text", "expected"),
    [
        (
            "ru",
            "Қазақстан Президенті",
            "Мемлекет басшысы Жарлыққа қол қойды. Сайлау көктемде өтеді. "
            "Бүгін елімізде жаңа заң күшіне енді.",
            "kk",
        ),
        (
            "ru",
            "Ўзбекистон",
            "Президент фармонни имзолади. Ўзбекистонда сайлов бўлиб ўтади, "
            "деб хабар қилди матбуот хизмати.",
            "uz",
        ),
        (
            "ru",
            "Кыргызстан",
            "Президент жарлыкка кол койду. Шайлоо жазында өтөт, "
            "деп билдирди басма сөз кызматы.",
            "ky",
        ),
        (
            "ru",
            "Тоқаев подписал указ",
            "Президент Қасым-Жомарт Тоқаев подписал указ. Сообщает пресс-служба "
            "Ақорды.",
            "ru",
        ),
        (None, "Новости", "Это обычный русский текст.", "ru"),
        ("en", "News", "Plain English text.", "en"),
        (None, "News", "Plain English text.", None),
    ],
)
def test_detect_source(src, title, text, expected):
    assert detect_source(src, title, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Татарстан Республикасы Президенты яңа закон проектын хуплады, дип "
            "хәбәр итте министрлыкның матбугат хезмәте пәнҗешәмбе көнне.",
            "tt",
        ),
        (
            "Башҡортостан Республикаһы Башлығы яңы закон проектын хупланы, тип "
            "хәбәр итте министрлыҡтың матбуғат хеҙмәте кесаҙна көндө.",
            "ba",
        ),
    ],
)
def test_tatar_and_bashkir_labelled_ru_never_go_to_a_kazakh_model(text, expected):
    assert detect_source("ru", "", text) == expected
