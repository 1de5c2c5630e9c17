"""The exercise vocabulary maps what people write and keeps what it does not know."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from analysis.exercises import EXERCISES, normalise_exercise, normalise_exercises


@pytest.mark.parametrize(
    ("written", "key"),
    [
        ("Knee to chest", "knee_to_chest"),
        ("knee-to-chest", "knee_to_chest"),
        ("KTC", "knee_to_chest"),
        ("Toe touch", "hamstring_stretch"),
        ("Standing hamstring stretch", "hamstring_stretch"),
        ("Child's pose", "childs_pose"),
        ("cat / camel", "cat_cow"),
        ("knee_to_chest", "knee_to_chest"),
    ],
)
def test_written_names_map_to_the_vocabulary(written: str, key: str) -> None:
    assert normalise_exercise(written) == key


def test_unknown_names_are_kept_as_written() -> None:
    assert normalise_exercise("  Wall sit ") == "Wall sit"


def test_seed_exercises_say_stop_if_it_hurts_and_knee_to_chest_is_sided() -> None:
    assert EXERCISES["knee_to_chest"].sided
    assert not EXERCISES["hamstring_stretch"].sided
    assert all("stop if it hurts" in e.instruction for e in EXERCISES.values())
    assert "5 seconds" in EXERCISES["knee_to_chest"].instruction


@given(st.lists(st.sampled_from(["Knee to chest", "Toe touch", "Wall sit", None]), max_size=20))
def test_vectorised_normalisation_equals_the_scalar_one(names: list[str | None]) -> None:
    series = pd.Series(names, dtype="string")
    out = normalise_exercises(series)
    for given_name, got in zip(names, out, strict=True):
        if given_name is None:
            assert pd.isna(got)
        else:
            assert got == normalise_exercise(given_name)
