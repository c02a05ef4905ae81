"""Issue #18: CTranslate2 model folders (NLLB / M2M100 / OPUS-MT) and routing.

A random-weight model of the NLLB architecture is built once per session
(tests/ct2build.py: transformers + ct2-transformers-converter, a few seconds)
and installed like a user's converted NLLB-200 folder.  Its output is
nonsense, so guards are loosened where a test needs a translation to pass,
and the assertions are about the mechanism: language tokens, routing per
source language, the cache keyed by the model, guards and length splitting.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.config import TranslateConfig, load_config
from monitor.exceptions import ConfigError, TranslateError
from monitor.models import TranslationStatus
from monitor.translate import (
    ArticleText,
    GuardLimits,
    LocalTranslator,
    MemoryCache,
    Offer,
    choose_engine,
    encode_source,
    install_ct2_from_dir,
    install_from_path,
    list_ct2_models,
    make_translator,
    remove_ct2_model,
    target_prefix,
    uzbek_latin,
)
from monitor.translate._ct2 import output_pieces
from monitor.translate._ct2models import read_vocabulary
from tests.ct2build import build_nllb

REPO = Path(__file__).resolve().parents[1]
MONITOR = str(Path(sys.executable).parent / "monitor")  # the installed executable
LOOSE = GuardLimits(
    max_cyrillic=1.0,
    min_ratio=0.0,
    max_ratio=1e9,
    max_word_repeats=10**6,
    max_ngram_repeats=10**6,
)
KAZAKH_TITLE = "Қазақстан Президенті сайлау туралы жарлыққа қол қойды"
KAZAKH_TEXT = (
    "Ертең Астанада жиналыс өтеді. Үкімет жаңа бағдарламаны бекітті.\n\n"
    "Қазақстан Президенті сайлау туралы жарлыққа қол қойды."
)
FIXTURE = "translate-ru_en-testfixture-0_0.argosmodel"


@pytest.fixture(scope="session")
def nllb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The converted random-weight NLLB folder (built once per session)."""
    return build_nllb(tmp_path_factory.mktemp("ct2") / "nllb-tiny")


@pytest.fixture
def models_dir(tmp_path: Path, nllb_dir: Path) -> Path:
    install_ct2_from_dir(nllb_dir, tmp_path / "models")
    return tmp_path / "models"


def translator(models_dir: Path, **kwargs: object) -> LocalTranslator:
    kwargs.setdefault("limits", LOOSE)
    kwargs.setdefault("cache", MemoryCache())
    return LocalTranslator(models_dir, threads=1, **kwargs)  # type: ignore[arg-type]


# ------------------------------------------------------------------ tokens


def test_nllb_source_and_target_tokens(models_dir: Path):
    (model,) = list_ct2_models(models_dir)
    assert model.family == "nllb"
    assert encode_source(model, "kk", ["▁Қаз", "ақ"]) == [
        "kaz_Cyrl",
        "▁Қаз",
        "ақ",
        "</s>",
    ]
    assert encode_source(model, "uz", ["▁a"])[0] == "uzn_Latn"
    assert encode_source(model, "uk", ["▁a"])[0] == "ukr_Cyrl"
    assert target_prefix(model, "en") == ["eng_Latn"]
    # every token we send exists in the model's vocabulary
    vocab = set(read_vocabulary(model.path))
    for lang in model.sources:
        assert encode_source(model, lang, [])[0] in vocab


def test_m2m100_and_opus_mt_tokens(models_dir: Path):
    from dataclasses import replace

    (nllb,) = list_ct2_models(models_dir)
    m2m = replace(nllb, family="m2m100")
    opus = replace(nllb, family="opus-mt")
    assert encode_source(m2m, "kk", ["▁x"]) == ["__kk__", "▁x", "</s>"]
    assert target_prefix(m2m, "en") == ["__en__"]
    assert encode_source(opus, "kk", ["▁x"]) == ["▁x", "</s>"]
    assert target_prefix(opus, "en") is None


def test_output_drops_language_tokens_and_specials():
    assert output_pieces(["eng_Latn", "▁Hello", "fur_Latn", "</s>", "▁world"]) == [
        "▁Hello",
        "▁world",
    ]


def test_uzbek_cyrillic_becomes_latin_for_nllb():
    assert uzbek_latin("Ўзбекистон президенти ғалаба қилди.") == (
        "Oʻzbekiston prezidenti gʻalaba qildi."
    )
    assert uzbek_latin("Ернинг ёни") == "Yerning yoni"
    assert uzbek_latin("Oʻzbekiston") == "Oʻzbekiston"  # Latin stays as it is


# ------------------------------------------------------------------ install


def test_install_records_family_and_languages(models_dir: Path, nllb_dir: Path):
    (model,) = list_ct2_models(models_dir)
    assert model.name == "nllb-tiny"
    assert {"kk", "uz", "ky", "tg", "tk", "uk", "ru"} <= set(model.sources)
    assert model.targets == ("en",)
    assert model.model_id.startswith("nllb:nllb-tiny@")
    manifest = json.loads((model.path / "monitor-model.json").read_text())
    assert manifest["family"] == "nllb"
    assert len(manifest["sha256"]) == 64
    # narrowed on request; a language the vocabulary lacks is refused
    narrowed = install_ct2_from_dir(
        nllb_dir, models_dir, name="kk-only", sources=["kk"]
    )
    assert narrowed.sources == ("kk",)
    with pytest.raises(TranslateError, match="no language token for xx"):
        install_ct2_from_dir(nllb_dir, models_dir, name="bad", sources=["xx"])
    assert remove_ct2_model(models_dir, "kk-only") == narrowed
    assert [m.name for m in list_ct2_models(models_dir)] == ["nllb-tiny"]
    assert remove_ct2_model(models_dir, "kk-only") is None


def test_install_refuses_bad_folders(tmp_path: Path, nllb_dir: Path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(TranslateError, match=r"no model\.bin"):
        install_ct2_from_dir(empty, tmp_path / "models")
    nospm = tmp_path / "nospm"
    nospm.mkdir()
    (nospm / "model.bin").write_bytes((nllb_dir / "model.bin").read_bytes())
    with pytest.raises(TranslateError, match="no SentencePiece model"):
        install_ct2_from_dir(nospm, tmp_path / "models")
    (nospm / "source.spm").write_bytes(b"x")
    (nospm / "target.spm").write_bytes(b"x")
    with pytest.raises(TranslateError, match=r"OPUS-MT .* --src"):
        install_ct2_from_dir(nospm, tmp_path / "models")
    opus = install_ct2_from_dir(
        nospm, tmp_path / "models", name="opus-trk-en", sources=["kk", "uz"]
    )
    assert (opus.family, opus.sources) == ("opus-mt", ("kk", "uz"))
    assert not list((tmp_path / "models" / "ct2").glob(".install-*"))


# ------------------------------------------------------------------ routing


def offers() -> list[Offer]:
    kk_ru = frozenset({("kk", "en"), ("ru", "en")})
    return [
        Offer(family="argos", name="", pairs=frozenset({("ru", "en")})),
        Offer(family="nllb", name="big", pairs=kk_ru),
        Offer(family="nllb", name="small", pairs=kk_ru),
        Offer(family="opus-mt", name="trk", pairs=frozenset({("kk", "en")})),
    ]


def test_choose_engine_routes():
    o = offers()
    assert choose_engine({}, o, "ru", "en") == 0  # default: Argos first
    assert choose_engine({}, o, "kk", "en") == 1  # then NLLB
    assert choose_engine({"ru": "nllb"}, o, "ru", "en") == 1
    assert choose_engine({"kk": "nllb:small"}, o, "kk", "en") == 2
    assert choose_engine({"kk": "opus-mt"}, o, "kk", "en") == 3
    assert choose_engine({"*": "nllb"}, o, "ru", "en") == 1
    assert choose_engine({"*": "nllb", "ru": "argos"}, o, "ru", "en") == 0
    assert choose_engine({"kk": "argos"}, o, "kk", "en") is None  # no kk Argos
    assert choose_engine({"kk": "none"}, o, "kk", "en") is None
    assert choose_engine({"kk": "nllb:missing"}, o, "kk", "en") is None
    assert choose_engine({}, o, "tg", "en") is None


def test_kazakh_reaches_nllb_and_is_marked_with_the_model(models_dir: Path):
    tr = translator(models_dir, routes={"kk": "nllb"})
    (model,) = list_ct2_models(models_dir)
    result = tr.translate_article(KAZAKH_TITLE, KAZAKH_TEXT, "kk")
    assert result.status is TranslationStatus.DONE, result.note
    assert result.engine == model.model_id
    assert result.text is not None
    assert "\n\n" in result.text
    assert "kaz_Cyrl" not in result.text
    assert "eng_Latn" not in result.text


def test_uzbek_latin_and_ukrainian_reach_nllb(models_dir: Path):
    tr = translator(models_dir, routes={"uz": "nllb", "uk": "nllb"})
    results = tr.translate_articles(
        [
            ArticleText(title="Oʻzbekiston prezidenti", text="Saylov.", src="uz"),
            ArticleText(title="Ўзбекистон президенти", text="Сайлов.", src="uz"),
            ArticleText(title="Президент України", text="Указ про вибори.", src="uk"),
        ]
    )
    assert [r.status for r in results] == [TranslationStatus.DONE] * 3
    # Latin Uzbek is not passed through as "no source script": the model saw it
    assert tr.stats.model_sentences == 6
    assert results[0].title != "Oʻzbekiston prezidenti"
    assert {r.engine.split("@")[0] for r in results} == {"nllb:nllb-tiny"}


def test_routes_none_and_missing_model_give_no_model(models_dir: Path):
    tr = translator(models_dir, routes={"kk": "none", "uk": "nllb:absent"})
    kk = tr.translate_article(KAZAKH_TITLE, KAZAKH_TEXT, "kk")
    uk = tr.translate_article("Президент України", "Указ.", "uk")
    assert (kk.status, uk.status) == (TranslationStatus.NO_MODEL,) * 2
    assert kk.note == "untranslated (no kk→en model)"
    assert ("kk", "en") not in tr.pairs()
    assert ("ky", "en") in tr.pairs()


def test_russian_to_argos_kazakh_to_nllb(models_dir: Path, shared_dir: Path) -> None:
    install_from_path(shared_dir / "models" / "test-fixture" / FIXTURE, models_dir)
    tr = translator(models_dir, routes={"ru": "argos", "kk": "nllb"})
    ru, kk = tr.translate_articles(
        [
            ArticleText(title="Президент подписал указ", text="Выборы.", src="ru"),
            ArticleText(title=KAZAKH_TITLE, text=KAZAKH_TEXT, src="kk"),
        ]
    )
    assert ru.engine.startswith("argos:translate-ru_en")
    assert kk.engine.startswith("nllb:nllb-tiny@")
    tr2 = translator(models_dir, routes={"*": "nllb"})
    assert tr2.translate_article("Указ подписан", "Выборы.", "ru").engine.startswith(
        "nllb:"
    )


# ------------------------------------------------------------------ cache, guards


def test_cache_is_keyed_by_the_model(models_dir: Path, nllb_dir: Path):
    cache = MemoryCache()
    first = translator(models_dir, routes={"kk": "nllb"}, cache=cache)
    a = first.translate_article(KAZAKH_TITLE, KAZAKH_TEXT, "kk")
    assert first.stats.model_calls > 0
    assert first.stats.cache_hits == 0
    again = translator(models_dir, routes={"kk": "nllb"}, cache=cache)
    b = again.translate_article(KAZAKH_TITLE, KAZAKH_TEXT, "kk")
    assert (again.stats.model_calls, again.stats.cache_hits) == (0, 4)
    assert b.text == a.text
    # another model (other weights, other id) does not see the first one's entries
    install_ct2_from_dir(nllb_dir, models_dir, name="nllb-other")
    (models_dir / "ct2" / "nllb-other" / "monitor-model.json").write_text(
        json.dumps(
            {
                **json.loads(
                    (
                        models_dir / "ct2" / "nllb-other" / "monitor-model.json"
                    ).read_text()
                ),
                "sha256": "f" * 64,
            }
        )
    )
    other = translator(models_dir, routes={"kk": "nllb:nllb-other"}, cache=cache)
    other.translate_article(KAZAKH_TITLE, KAZAKH_TEXT, "kk")
    assert other.stats.cache_hits == 0
    assert other.stats.model_calls > 0


def test_guards_retry_then_keep_the_original(models_dir: Path):
    strict = GuardLimits(max_ratio=0.01, min_ratio=0.0)  # every output is "too long"
    tr = translator(models_dir, routes={"kk": "nllb"}, limits=strict)
    result = tr.translate_article(KAZAKH_TITLE, KAZAKH_TEXT, "kk")
    assert tr.stats.retried == tr.stats.model_sentences == 4
    assert result.status is TranslationStatus.PARTIAL
    assert result.flagged == 4
    assert result.text == KAZAKH_TEXT
    assert result.title is None  # the headline stays the original's


def test_overlong_sentence_is_split_at_the_models_positions(models_dir: Path):
    words = "Үкімет жаңа бағдарламаны бекітті және жиналыс өтеді".split()
    sentence = " ".join(words[i % len(words)] for i in range(300))  # no full stop
    tr = translator(models_dir, routes={"kk": "nllb"})
    result = tr.translate_article("Жиналыс", sentence, "kk")
    assert result.status is TranslationStatus.DONE  # 64 positions: split, not failed
    assert tr.stats.model_calls >= 2


def test_make_translator_uses_routes_and_installed_models(models_dir: Path):
    cfg = TranslateConfig(models_dir=models_dir, routes={"kk": "nllb"})
    tr = make_translator(cfg, models_dir=models_dir)
    assert isinstance(tr, LocalTranslator)
    assert ("kk", "en") in tr.pairs()


# ------------------------------------------------------------------ config


def test_routes_config_errors_are_reported_together(tmp_path: Path):
    (tmp_path / "monitor.toml").write_text(
        '[translate.routes]\nkk = "nlb"\nKZ = "nllb"\nru = "argos:x"\nuz = "nllb:"\n'
    )
    (tmp_path / "feeds.toml").write_text("")
    (tmp_path / "topics.toml").write_text("")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, env={})
    errors = "\n".join(info.value.errors)
    assert "translate.routes.kk: 'nlb' is not one of" in errors
    assert "(did you mean 'nllb'?)" in errors
    assert "translate.routes.KZ: 'KZ' is not a language code" in errors
    assert "translate.routes.ru: 'argos:x': only a model family takes" in errors
    assert "translate.routes.uz: 'nllb:': the model name after ':' is empty" in errors


def test_routes_from_file_and_environment(tmp_path: Path):
    (tmp_path / "monitor.toml").write_text('[translate.routes]\nkk = "nllb"\n')
    (tmp_path / "feeds.toml").write_text("")
    (tmp_path / "topics.toml").write_text("")
    assert load_config(tmp_path, env={}).translate.routes == {"kk": "nllb"}
    env = {"MONITOR_TRANSLATE_ROUTES": "ru=argos, *=nllb"}
    routes = load_config(tmp_path, env=env).translate.routes
    assert routes == {"ru": "argos", "*": "nllb"}


# ------------------------------------------------------------------ end to end


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")},
        "PYTHONPATH": str(REPO),
        "MONITOR_CONFIG": str(tmp_path),
        "HOME": str(tmp_path / "home"),
    }
    return subprocess.run(
        [MONITOR, *args], capture_output=True, text=True, timeout=300, env=env
    )


def test_cli_install_list_remove_and_bad_folder(tmp_path: Path, nllb_dir: Path):
    from tests.sitegen import write_config

    write_config(tmp_path, [])
    done = run(tmp_path, "models", "install", "--from", str(nllb_dir))
    assert done.returncode == 0, done.stderr
    assert "installed nllb-tiny (nllb:" in done.stdout
    listed = run(tmp_path, "models", "list")
    assert "nllb-tiny" in listed.stdout
    assert "kk,ky," in listed.stdout.replace(" ", "")
    as_json = json.loads(run(tmp_path, "models", "list", "--json").stdout)
    (entry,) = [m for m in as_json if m.get("family") == "nllb"]
    assert "kk" in entry["from"]
    assert entry["to"] == ["en"]
    (tmp_path / "home").mkdir(exist_ok=True)
    bad = run(tmp_path, "models", "install", "--from", str(tmp_path / "home"))
    assert bad.returncode == 1
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "neither an Argos package nor a CTranslate2" in lines[0]
    (tmp_path / "home" / "model.bin").write_bytes(b"\0")
    bad = run(tmp_path, "models", "install", "--from", str(tmp_path / "home"))
    lines = bad.stderr.strip().splitlines()
    assert bad.returncode == 1, bad.stderr
    assert len(lines) == 1, bad.stderr
    assert "home: no SentencePiece model" in lines[0]
    gone = run(tmp_path, "models", "remove", "nllb-tiny")
    assert gone.returncode == 0
    assert "removed nllb-tiny" in gone.stdout
    assert run(tmp_path, "models", "remove", "nllb-tiny").returncode == 1


def test_kazakh_article_end_to_end(tmp_path: Path, nllb_dir: Path, http_server):
    """Feed → fetch → extract → translate (NLLB via routes) → digest naming it."""
    from tests.sitegen import NOW, write_config

    page = (
        "<!DOCTYPE html><html lang='kk'><head><meta charset='utf-8'>"
        f"<title>{KAZAKH_TITLE}</title></head><body><article><h1>{KAZAKH_TITLE}</h1>"
        + "".join(f"<p>{p} {p} {p}</p>" for p in KAZAKH_TEXT.split("\n\n"))
        + "</article></body></html>"
    )
    link = http_server.add(
        "/kk/1", body=page.encode(), content_type="text/html; charset=utf-8"
    )
    pub = NOW.strftime("%a, %d %b %Y %H:%M:%S +0000")
    feed = http_server.add(
        "/kk.xml",
        body=(
            "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
            f"<title>kk</title><item><title>{KAZAKH_TITLE}</title><link>{link}</link>"
            f"<guid>kk-1</guid><pubDate>{pub}</pubDate>"
            f"<description>{KAZAKH_TEXT}</description></item></channel></rss>"
        ).encode(),
        content_type="application/rss+xml",
    )
    write_config(tmp_path, [("kaz", feed, "kk")], '[translate.routes]\nkk = "nllb"\n')
    assert run(tmp_path, "models", "install", "--from", str(nllb_dir)).returncode == 0
    done = run(tmp_path, "run", "-q", "--no-digest")
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    day = NOW.date().isoformat()
    digest = run(tmp_path, "digest", "-q", "--date", day, "--no-send")
    assert digest.returncode == 0, digest.stderr
    (txt,) = (tmp_path / "digests").rglob(f"*{day}*.txt")
    text = txt.read_text(encoding="utf-8")
    # random weights: the guards may hold the output back; either way the
    # digest names the model that the route chose
    assert re.search(r"(translated\s+by|tried)\s+nllb:nllb-tiny", text), text[-3000:]
    with closing(sqlite3.connect(tmp_path / "monitor.db")) as db:
        ((lang, engine),) = db.execute("SELECT lang, translation_engine FROM articles")
    assert lang == "kk"
    assert engine.startswith("nllb:nllb-tiny@")


# ------------------------------------------------------------------ digest label


def _stored(status: TranslationStatus, engine: str | None, title_en: str | None):
    from monitor.models import Article

    return Article(
        id=1,
        canonical_url="https://x.kz/1",
        url="https://x.kz/1",
        feed_name="kaz",
        outlet="Kaz",
        country="KZ",
        title=KAZAKH_TITLE,
        text=KAZAKH_TEXT,
        source=None,
        is_teaser=False,
        author=None,
        published=None,
        first_seen=datetime(2026, 3, 14, tzinfo=UTC),
        lang="kk",
        extract_status="done",
        translation_status=status,
        title_en=title_en,
        translation_engine=engine,
    )


def test_digest_names_the_model_without_its_weights_hash():
    from monitor.digest._build import _translated_by

    done = _stored(TranslationStatus.DONE, "nllb:nllb-200@0123456789", "Decree")
    held = _stored(TranslationStatus.PARTIAL, "nllb:nllb-200@0123456789", None)
    argos = _stored(TranslationStatus.DONE, "argos:translate-ru_en-1_9", "Decree")
    none = _stored(TranslationStatus.NO_MODEL, None, None)
    assert _translated_by(done) == "translated by nllb:nllb-200"
    assert _translated_by(held) == "tried nllb:nllb-200"
    assert _translated_by(argos) == "translated by argos:translate-ru_en-1_9"
    assert _translated_by(none) is None


def test_a_broken_model_is_one_clear_error_remembered(models_dir: Path):
    from monitor.exceptions import TranslatorUnavailableError

    (model,) = list_ct2_models(models_dir)
    (model.path / "model.bin").write_bytes(b"not a model")
    tr = translator(models_dir, routes={"kk": "nllb"})
    with pytest.raises(TranslatorUnavailableError, match="cannot load model") as first:
        tr.translate_article(KAZAKH_TITLE, KAZAKH_TEXT, "kk")
    assert str(model.path) in str(first.value)
    with pytest.raises(TranslatorUnavailableError) as again:
        tr.translate_article(KAZAKH_TITLE, KAZAKH_TEXT, "kk")
    assert again.value is first.value  # not reloaded per article
