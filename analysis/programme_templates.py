"""Programme templates shipped with rehabtrack, written from the seed text.

The seed (a public patient-education article on back-exercise stretches,
summarised in docs/clinical-reference.md section 7) gives two exercises and a
principle: knee-to-chest ("lie on your back with knees bent ... raise your left
knee to your chest ... remain in the position for 5 seconds ... repeat with
your right knee ... 10 times for each leg"), the standing hamstring toe reach
("slowly bend forward and try to touch your toes ... without bending your knees
... smooth and not jerky ... stop when you feel pain"), the muscles "need to be
stretched every day" and the routine "should start gently and gradually build
over a period of a few weeks". The instructions shown to patients are those of
:data:`analysis.exercises.EXERCISES` (each ends with "stop if it hurts").

Doses the seed does not state (repetitions of the hamstring reach, the holds of
the other stretches) are editable starting values chosen by the physio, not
clinical thresholds: every one can be changed before saving.
"""

from __future__ import annotations

from analysis.programmes import Programme, ProgrammeItem, Progression, Template

__all__ = ["SEED_PROGRESSION", "TEMPLATES", "template"]

#: The progression of the issue: 1 set in weeks 1-2, 2 sets in weeks 3-4, then 10-second holds.
SEED_PROGRESSION = "weeks 1-2: 1 set, weeks 3-4: 2 sets, weeks 5+: hold 10 s"

_SEED_ITEMS = (
    # seed: hold 5 s, 10 times each leg, every day
    ProgrammeItem("knee_to_chest", "left", sets=1, reps=10, hold_s=5, sessions_per_week=7),
    ProgrammeItem("knee_to_chest", "right", sets=1, reps=10, hold_s=5, sessions_per_week=7),
    # seed: slow toe reach, knees straight, no bouncing, every day; repetitions not stated (editable: 5)
    ProgrammeItem("hamstring_stretch", "both", sets=1, reps=5, hold_s=0, sessions_per_week=7),
)

TEMPLATES: dict[str, Template] = {
    t.key: t
    for t in (
        Template(
            "seed_back_programme",
            "Seed back programme: knee-to-chest and hamstring stretch, building over 5 weeks",
            "The two stretches of the seed text, every day, starting gently (1 set) and building: "
            "2 sets from week 3, 10-second holds from week 5.",
            Programme(_SEED_ITEMS, Progression.parse(SEED_PROGRESSION)),
        ),
        Template(
            "seed_back_programme_flat",
            "Seed back programme without progression",
            "Knee-to-chest (5 s hold, 10 each leg) and the hamstring toe reach, every day, same dose throughout.",
            Programme(_SEED_ITEMS),
        ),
        Template(
            "gentle_low_back",
            "Gentle low-back stretches",
            "Common gentle low-back stretches of home programmes: pelvic tilt, cat-cow, child's pose and "
            "lower trunk rotation each side, once a day; starting values to adapt.",
            Programme((
                ProgrammeItem("pelvic_tilt", "both", sets=1, reps=10, hold_s=5, sessions_per_week=7),
                ProgrammeItem("cat_cow", "both", sets=1, reps=10, hold_s=0, sessions_per_week=7),
                ProgrammeItem("childs_pose", "both", sets=1, reps=3, hold_s=20, sessions_per_week=7),
                ProgrammeItem("lower_trunk_rotation", "left", sets=1, reps=10, hold_s=5, sessions_per_week=7),
                ProgrammeItem("lower_trunk_rotation", "right", sets=1, reps=10, hold_s=5, sessions_per_week=7),
            )),
        ),
    )
}


def template(key: str) -> Template:
    """The shipped template ``key``; ``KeyError`` names the available ones."""
    try:
        return TEMPLATES[key]
    except KeyError:
        raise KeyError(f"no template {key!r}; available: {', '.join(TEMPLATES)}") from None
