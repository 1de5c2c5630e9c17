"""The exercise vocabulary: gentle low-back stretches and the names people give them.

The first two entries are the stretches of the programme's source text
(a patient-education article on back-exercise stretches, summarised in
docs/clinical-reference.md section 7): knee-to-chest (lie on your back,
knees bent, raise one knee to the chest, hold 5 s, 10 times each leg) and the
standing hamstring toe-touch (slow reach to the toes, knees straight, no
bouncing). The others are common gentle stretches of home programmes for low
back pain. Every instruction ends with the seed's rule: stop when it hurts.

:func:`normalise_exercise` maps what people write ("Knee to chest",
"KTC", "toe touch") to a vocabulary key; an unknown name is kept as it was
written (trimmed) and reported by ingestion, never dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

__all__ = ["Exercise", "EXERCISES", "normalise_exercise", "normalise_exercises", "is_known", "exercise_labels"]


@dataclass(frozen=True)
class Exercise:
    """One exercise of the vocabulary.

    Attributes
    ----------
    key
        Canonical name stored in the tables (``knee_to_chest``).
    label
        Name shown to people.
    sided
        True when the exercise is done and prescribed per side (left / right).
    instruction
        Plain-language instruction, ending with "stop if it hurts".
    synonyms
        Other names people write for it (matched case- and punctuation-insensitively).
    """

    key: str
    label: str
    sided: bool
    instruction: str
    synonyms: tuple[str, ...] = ()


_STOP = " Move slowly and gently; stop if it hurts."

EXERCISES: dict[str, Exercise] = {
    e.key: e
    for e in (
        Exercise(
            "knee_to_chest",
            "Knee-to-chest stretch",
            True,
            "Lie on your back with knees bent. Slowly raise one knee to your chest while "
            "pressing your lower back into the floor. Hold 5 seconds, relax, change legs; "
            "10 times each leg." + _STOP,
            ("knee to chest", "single knee to chest", "knee chest", "ktc", "knee hug",
             "knee to chest stretch", "single knee to chest stretch"),
        ),
        Exercise(
            "hamstring_stretch",
            "Standing hamstring stretch (toe touch)",
            False,
            "Stand with feet shoulder-width apart. Slowly bend forward and reach towards your "
            "toes without bending your knees; smooth, no bouncing. Can also be done lying "
            "down." + _STOP,
            ("hamstring", "hamstrings", "toe touch", "toe touches", "standing toe touch",
             "hamstring toe touch", "standing hamstring stretch", "hamstring stretch standing",
             "forward bend"),
        ),
        Exercise(
            "pelvic_tilt",
            "Pelvic tilt",
            False,
            "Lie on your back, knees bent. Tighten your tummy and flatten your lower back "
            "into the floor, hold, then relax." + _STOP,
            ("pelvic tilts", "posterior pelvic tilt", "back flattening"),
        ),
        Exercise(
            "cat_cow",
            "Cat-cow",
            False,
            "On hands and knees, slowly round your back up, then let it sag gently." + _STOP,
            ("cat cow", "cat camel", "cat and camel", "cat stretch"),
        ),
        Exercise(
            "childs_pose",
            "Child's pose",
            False,
            "Kneel, sit back on your heels and reach your arms forward along the floor." + _STOP,
            ("child pose", "childs pose", "child s pose", "prayer stretch"),
        ),
        Exercise(
            "lower_trunk_rotation",
            "Lower trunk rotation",
            True,
            "Lie on your back, knees bent together. Slowly let both knees fall to one side, "
            "hold, and return." + _STOP,
            ("trunk rotation", "lumbar rotation", "knee rolls", "knee roll", "lower back rotation"),
        ),
        Exercise(
            "piriformis_stretch",
            "Piriformis (figure-four) stretch",
            True,
            "Lie on your back, cross one ankle over the other knee and gently pull the "
            "thigh towards you." + _STOP,
            ("piriformis", "figure four", "figure 4 stretch", "figure four stretch", "glute stretch"),
        ),
        Exercise(
            "prone_press_up",
            "Prone press-up",
            False,
            "Lie on your front, hands under your shoulders, and gently push your upper body "
            "up, keeping your hips down." + _STOP,
            ("press up", "press ups", "mckenzie press up", "prone extension", "cobra"),
        ),
        Exercise(
            "bridge",
            "Bridge",
            False,
            "Lie on your back, knees bent, and slowly lift your hips, then lower." + _STOP,
            ("bridges", "glute bridge", "hip bridge"),
        ),
    )
}


def _fold(name: str) -> str:
    """Lower-case, turn punctuation into spaces and collapse white space."""
    return " ".join(re.sub(r"[^0-9a-z]+", " ", name.lower()).split())


_LOOKUP: dict[str, str] = {}
for _ex in EXERCISES.values():
    for _name in (_ex.key, _ex.label, *_ex.synonyms):
        _LOOKUP[_fold(_name)] = _ex.key


def normalise_exercise(name: str) -> str:
    """Map one written exercise name to its vocabulary key.

    Parameters
    ----------
    name
        The name as written in a file, e.g. ``"Knee-to-chest"`` or ``"KTC"``.

    Returns
    -------
    str
        The vocabulary key (``"knee_to_chest"``), or ``name`` stripped of
        surrounding white space when it is not in the vocabulary.

    Examples
    --------
    >>> normalise_exercise("Knee to Chest")
    'knee_to_chest'
    >>> normalise_exercise("  Wall sit ")
    'Wall sit'
    """
    return _LOOKUP.get(_fold(name), name.strip())


def normalise_exercises(names: pd.Series) -> pd.Series:
    """Vectorised :func:`normalise_exercise` (maps each distinct name once)."""
    distinct = pd.unique(names.dropna())
    mapping = {n: normalise_exercise(str(n)) for n in distinct}
    return names.map(mapping).astype("string")


def is_known(key: str) -> bool:
    """True when ``key`` is a vocabulary key."""
    return key in EXERCISES


def exercise_labels(keys: pd.Series) -> pd.Series:
    """The names people read for exercise keys (``knee_to_chest`` -> ``Knee-to-chest stretch``).

    A key outside the vocabulary (a clinic's own exercise, an unrecognised name) is
    shown as stored; missing values stay missing.

    Examples
    --------
    >>> exercise_labels(pd.Series(["knee_to_chest", "my own stretch", None])).tolist()
    ['Knee-to-chest stretch', 'my own stretch', <NA>]
    """
    text = keys.astype("string")
    return text.map({k: e.label for k, e in EXERCISES.items()}).fillna(text).astype("string")
