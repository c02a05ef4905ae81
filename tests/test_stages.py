"""The article stage rules storage applies (monitor/stages.py, issue #13)."""

from __future__ import annotations

import pytest

from monitor.stages import (
    STAGE_COLUMNS,
    error_text,
    merge_target,
    next_attempt,
    stages_reset_by,
)


@pytest.mark.parametrize(
    ("event", "reset"),
    [
        ("entry_changed", ("extract",)),
        ("extract", ("translate", "classify")),
        ("translate", ("classify",)),
        ("classify", ()),
        ("stories", ()),
    ],
)
def test_downstream_resets(event, reset):
    assert stages_reset_by(event) == reset


def test_resets_name_known_stages_in_pipeline_order():
    order = list(STAGE_COLUMNS)
    for event in ("entry_changed", "extract", "translate"):
        stages = stages_reset_by(event)
        assert set(stages) <= set(order)
        assert [order.index(s) for s in stages] == sorted(
            order.index(s) for s in stages
        )


def test_a_new_canonical_url_keeps_the_row():
    assert merge_target(7, None) is None


def test_the_same_article_keeps_its_row():
    assert merge_target(7, 7) is None


def test_a_url_held_by_another_article_folds_into_it():
    assert merge_target(7, 3) == 3
    assert merge_target(3, 7) == 7


def test_attempts_count_per_stage():
    assert next_attempt(None, "extract", 0) == 1
    assert next_attempt(error_text("extract", "timeout"), "extract", 1) == 2
    assert next_attempt(error_text("extract", "timeout"), "extract", 4) == 5
    # a failure in another stage starts the count again
    assert next_attempt(error_text("extract", "timeout"), "translate", 4) == 1


def test_a_stage_name_prefix_is_not_the_same_stage():
    # "stories" must not count as a continuation of a failure in "stor"
    assert next_attempt(error_text("stories", "x"), "stor", 3) == 1
