"""Records of the stories domain; they live in monitor.models (storage uses them)."""

from __future__ import annotations

from ..models import Assignment, Relation, Story, StoryMember

__all__ = ["Assignment", "Relation", "Story", "StoryMember"]
