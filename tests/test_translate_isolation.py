"""Issue #10.4: one failing translation must not block the stage.

With the ../shared random-weight fixture (a 2-layer Marian with 256 positions):
a "sentence" longer than the model's positional limit used to fail the whole
batch (0 of 64 translated, every run).  Now it is split at the limit read from
the model, and any other error fails only its article, which is retried a
bounded number of times and never holds up the stories stage.
"""

from __future__ import annotations

import random
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor import cli as cli_mod
from monitor import fetch
from monitor.config import load_config
from monitor.exceptions import TranslateError
from monitor.models import Extracted, FeedItem, FeedSpec, TextSource, TranslationStatus
from monitor.pipeline import Pipeline, open_storage
from monitor.store import Storage
from monitor.translate import (
    ArticleTranslator,
    FakeEngine,
    TranslateStats,
    install_from_path,
)
from monitor.translate._argos import model_positions, split_tokens
from tests.sitegen import NOW, write_config

FIXTURE = "translate-ru_en-testfixture-0_0.argosmodel"
WORDS = ["президент", "выборы", "Казахстан", "указ", "весной", "голосование"]
POISON = "Отравленная фраза."


@pytest.fixture
def models_dir(shared_dir: Path, tmp_path: Path) -> Path:
    package = shared_dir / "models" / "test-fixture" / FIXTURE
    if not package.is_file():
        pytest.skip(f"../shared not found: {package}")
    install_from_path(package, tmp_path / "models")
    return tmp_path / "models"


def long_sentence(words: int = 1200) -> str:
    """About 10,000 characters and 4,700 fixture tokens, with no sentence end."""
    rng = random.Random(4)
    return " ".join(rng.choice(WORDS) for _ in range(words))


def add_articles(storage: Storage, texts: list[str]) -> list[int]:
    """Store extracted Russian articles through the write API; returns their ids."""
    storage.sync_feeds(
        [
            FeedSpec(
                name="kz",
                url="http://127.0.0.1/rss",
                outlet="Kz",
                lang="ru",
                country="KZ",
            )
        ]
    )
    items = [
        (
            FeedItem(
                feed_name="kz",
                entry_id=f"e{i}",
                link=f"https://example.kz/news/{i}",
                title=f"Новость номер {i}",
                published=NOW - timedelta(minutes=i),
            ),
            f"https://example.kz/news/{i}",
        )
        for i in range(len(texts))
    ]
    storage.add_feed_items(items, NOW)
    ids = []
    for (item, url), text in zip(items, texts, strict=True):
        art = storage.get_articles_needing_extraction(1000)
        article_id = next(a.id for a, _ in art if a.url == url)
        storage.save_extraction(
            article_id,
            Extracted(
                text=text,
                title=item.title,
                author=None,
                published=item.published,
                lang="ru",
                canonical_url=url,
                source=TextSource.PAGE,
            ),
            NOW,
        )
        ids.append(article_id)
    return ids


def make_pipeline(tmp_path: Path, storage: Storage) -> Pipeline:
    cfg = load_config(tmp_path, env={})
    return Pipeline(
        cfg=cfg, storage=storage, client=fetch.make_client(cfg.fetch), now=lambda: NOW
    )


@pytest.fixture
def config(tmp_path: Path, http_server) -> Path:
    """A config with one feed "kz" (an empty feed on the local server)."""
    url = http_server.add(
        "/rss.xml",
        body=b"<?xml version='1.0'?><rss version='2.0'><channel><title>kz</title>"
        b"</channel></rss>",
        content_type="application/rss+xml",
    )
    write_config(tmp_path, [("kz", url, "ru")])
    return tmp_path


# ----------------------------------------------------------------- length limit


def test_limit_is_read_from_the_model(models_dir: Path):
    (model_bin,) = models_dir.rglob("model.bin")
    assert model_positions(model_bin) == 256
    assert model_positions(models_dir / "missing.bin") is None


def test_split_tokens_prefers_word_starts():
    tokens = ["▁при", "вет", "▁мир"] * 100
    pieces = split_tokens(tokens, 50)
    assert [t for p in pieces for t in p] == tokens
    assert all(len(p) <= 50 for p in pieces)
    assert all(p[0].startswith("▁") for p in pieces)
    assert split_tokens(tokens, None) == [tokens]
    assert split_tokens(["x"] * 120, 50) == [["x"] * 50, ["x"] * 50, ["x"] * 20]


@pytest.mark.slow
def test_over_long_sentence_no_longer_blocks_the_batch(models_dir, config):
    """64 articles, one with a ~4,700-token sentence: all 64 are translated."""
    texts = [
        f"Президент подписал указ номер {i}. Выборы пройдут весной." for i in range(63)
    ]
    texts.insert(17, long_sentence())
    with closing(open_storage(load_config(config, env={}))) as storage:
        ids = add_articles(storage, texts)
        with make_pipeline(config, storage) as pipeline:
            pipeline.translate_articles()
            summary = pipeline.summary.counts
        assert summary.get("articles_translated") == 64, summary
        assert "translations_failed" not in summary
        arts = storage.get_articles(ids)
        assert {a.translation_status for a in arts} <= {
            TranslationStatus.DONE,
            TranslationStatus.PARTIAL,
        }
        assert arts[17].text_en  # translated, in pieces


# ----------------------------------------------------------------- other errors


class PoisonEngine(FakeEngine):
    """Fails every call that contains the poisoned sentence (a non-length error)."""

    def translate(self, src, dst, sentences, *, retry, stats: TranslateStats):
        if POISON in sentences:
            raise TranslateError("engine crashed on this input", resource="fake")
        return super().translate(src, dst, sentences, retry=retry, stats=stats)


def poisoned_translator() -> ArticleTranslator:
    return ArticleTranslator(PoisonEngine(), now=lambda: NOW)


def test_one_failing_article_fails_alone_and_is_parked(config):
    texts = [f"Президент подписал указ номер {i}." for i in range(64)]
    texts[40] = f"Начало статьи. {POISON} Конец статьи."
    with closing(open_storage(load_config(config, env={}))) as storage:
        ids = add_articles(storage, texts)
        for run in range(4):
            with make_pipeline(config, storage) as pipeline:
                pipeline._translator = poisoned_translator()
                pipeline.translate_articles()
                counts = pipeline.summary.counts
                if run == 0:
                    assert counts["articles_translated"] == 63
                    # stories do not wait on the failed translation
                    pipeline.cluster_stories()
                    assert storage.get_article(ids[40]).story_id is not None
                failed = counts.get("translations_failed", 0)
                # retried on the next runs (fetch.max_attempts = 3), then parked
                assert failed == (1 if run < 3 else 0), (run, counts)
        culprit = storage.get_article(ids[40])
        assert culprit.translation_status is TranslationStatus.FAILED
        assert "engine crashed on this input" in (culprit.translation_note or "")
        others = storage.get_articles(ids[:40] + ids[41:])
        assert {a.translation_status for a in others} == {TranslationStatus.DONE}
        stages = storage.get_stage_counts()["translate"]
        assert stages == {"done": 63, "failed": 1}
        failures = storage.get_recent_failures()
        assert any(
            f.stage == "translate" and f.resource == f"article {ids[40]}"
            for f in failures
        )


def test_strict_run_exits_3_on_a_failed_translation(config, monkeypatch):
    with closing(open_storage(load_config(config, env={}))) as storage:
        add_articles(storage, [f"Начало статьи. {POISON}", "Президент подписал указ."])
    monkeypatch.setattr(
        "monitor.translate.make_translator", lambda *a, **k: poisoned_translator()
    )
    runner = CliRunner()
    args = ["run", "--config", str(config), "--no-digest"]
    result = runner.invoke(cli_mod.cli, [*args, "--strict"])
    assert result.exit_code == 3, result.output
    assert "1 failed" in result.output
    status = runner.invoke(cli_mod.cli, ["status", "--config", str(config)])
    assert "engine crashed on this input" in status.output
