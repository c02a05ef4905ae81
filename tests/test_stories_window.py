"""The story window loads faster and decides exactly as before (issue #19).

`tests/golden/story_window_assignments.json` holds the assignments (story,
relation, score) that the code before issue #19's window work gave for
tests/storystream.py's stream of 800 articles, run as the pipeline runs it:
batches of 100, each loading the stored features of its window first.  The
present code must give every one of them again.
"""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path

import numpy as np
import pytest
from datasketch import LeanMinHash, MinHashLSH

from monitor.config import StoriesConfig
from monitor.stories import (
    StoryClusterer,
    compute_features,
    features_from_bytes,
    features_to_bytes,
    load_known,
    window_start,
)
from monitor.stories._cluster import _Bands
from monitor.stories._features import MINHASH_SCHEME, MINHASH_SEED, _features_to_json

from .storystream import stream

GOLDEN = Path(__file__).parent / "golden" / "story_window_assignments.json"
CFG = StoriesConfig()


@pytest.fixture(scope="module")
def features():
    return [compute_features(c, CFG) for c in stream(800, per_day=400)]


def _runs(features, run: int = 100) -> list[list[object]]:
    stored: list[tuple[object, int, int, bytes]] = []
    out: list[list[object]] = []
    for start in range(0, len(features), run):
        batch = features[start : start + run]
        since = window_start(batch, CFG, batch[-1].time)
        rows = [(a, s, b) for t, a, s, b in sorted(stored) if t >= since]  # type: ignore[operator]
        clusterer = StoryClusterer(CFG, load_known(rows))
        for f in batch:
            a = clusterer.assign(f)
            out.append([a.article_id, a.story_id, str(a.relation), a.score])
            stored.append((f.time, f.article_id, a.story_id, features_to_bytes(f)))
    return out


def test_assignments_are_exactly_those_of_the_old_window_code(features):
    expected = json.loads(GOLDEN.read_text(encoding="utf-8"))
    got = _runs(features)
    assert got == expected
    relations = {r[2] for r in got}
    assert relations == {"seed", "exact", "near", "story"}  # every case is there


def test_features_round_trip_in_both_formats(features):
    for f in features[:200]:
        blob = features_to_bytes(f)
        assert blob[:4] == b"SF02"
        assert features_from_bytes(blob) == f
        assert features_from_bytes(_features_to_json(f)) == f  # SF01 still read
    assert len(features_to_bytes(features[0])) < len(_features_to_json(features[0]))


@pytest.mark.parametrize(
    "change",
    [
        {"outlet": "A\x1eB"},
        {"entities": ("x\x1fy",)},
        {"title_names": ("",)},
        {"terms": (("", 2), ("a", 1))},
        {"terms_en": (("a", 70_000),)},
    ],
)
def test_features_sf02_cannot_hold_fall_back_to_json(features, change):
    f = dataclasses.replace(features[0], **change)
    blob = features_to_bytes(f)
    assert blob[:4] == b"SF01"
    assert features_from_bytes(blob) == f


def test_a_damaged_sf02_blob_is_a_value_error(features):
    blob = features_to_bytes(features[0])
    with pytest.raises(ValueError, match="fields"):
        features_from_bytes(blob.replace(b"\x1e", b"\x1f", 3))


def test_bands_find_what_datasketch_finds(features):
    """Same buckets as datasketch's MinHashLSH, inserts and removals included."""
    lsh = MinHashLSH(threshold=CFG.near_duplicate_threshold, num_perm=CFG.num_perm)
    bands = _Bands(CFG.near_duplicate_threshold, CFG.num_perm)
    values = {f.article_id: np.frombuffer(f.minhash, dtype="<u4") for f in features}

    def lean(v: np.ndarray) -> LeanMinHash:
        return LeanMinHash(seed=MINHASH_SEED, hashvalues=v, scheme=MINHASH_SCHEME)

    for key, v in values.items():
        lsh.insert(key, lean(v))
        bands.insert(key, v)
    for key in random.Random(1).sample(sorted(values), 300):
        lsh.remove(key)
        bands.remove(key, values[key])
    found = 0
    for v in values.values():
        expected = set(lsh.query(lean(v)))
        assert bands.query(v) == expected
        found += len(expected) > 1
    assert found > 50  # copies are there: the comparison is not vacuous
