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

__all__ = ["DEFAULT_TEMPLATE", "GRADUAL_PROGRESSION", "SEED_PROGRESSION", "TEMPLATES", "template"]

#: The progression of the issue: 1 set in weeks 1-2, 2 sets in weeks 3-4, then 10-second holds. Doubling the
#: holds at once makes weeks 5-6 steeper than the app's own load-progression flag (acute:chronic above
#: ``acwr_max`` = 1.5, docs/clinical-reference.md section 5), so it is no longer the default.
SEED_PROGRESSION = "weeks 1-2: 1 set, weeks 3-4: 2 sets, weeks 5+: hold 10 s"

#: The default: the seed's "start gently and gradually build over a period of a few weeks" reaching the same
#: 2 sets and 10-second knee-to-chest holds by week 10, each step within the load-progression flag (every planned
#: week at most ``acwr_max`` x the mean of the 4 weeks before; tests/test_programmes.py checks it through
#: :func:`analysis.programmes.steep_weeks`). The hamstring toe reach keeps the seed's smooth movement without a hold.
#: The step sizes are a project choice (docs/clinical-reference.md section 8), editable before saving.
GRADUAL_PROGRESSION = ("weeks 1-2: 1 set, weeks 3-5: 2 sets, weeks 6-7 (knee_to_chest): hold 6 s, "
                       "weeks 8-9 (knee_to_chest): hold 8 s, weeks 10+ (knee_to_chest): hold 10 s")

_SEED_ITEMS = (
    # seed: hold 5 s, 10 times each leg, every day
    ProgrammeItem("knee_to_chest", "left", sets=1, reps=10, hold_s=5, sessions_per_week=7),
    ProgrammeItem("knee_to_chest", "right", sets=1, reps=10, hold_s=5, sessions_per_week=7),
    # seed: slow toe reach, knees straight, no bouncing, every day; repetitions not stated (editable: 5)
    ProgrammeItem("hamstring_stretch", "both", sets=1, reps=5, hold_s=0, sessions_per_week=7),
)

#: The template a new programme starts from (the first of :data:`TEMPLATES`).
DEFAULT_TEMPLATE = "seed_back_gradual"

TEMPLATES: dict[str, Template] = {
    t.key: t
    for t in (
        Template(
            DEFAULT_TEMPLATE,
            "Seed back programme: knee-to-chest and hamstring stretch, building gradually over 10 weeks",
            "The two stretches of the seed text, every day, starting gently (1 set) and building within the "
            "load-progression flag: 2 sets from week 3, knee-to-chest holds of 6 s from week 6, 8 s from week 8 "
            "and 10 s from week 10.",
            Programme(_SEED_ITEMS, Progression.parse(GRADUAL_PROGRESSION)),
        ),
        Template(
            "seed_back_programme",
            "Seed back programme, faster: 10-second holds from week 5 (steeper than the load flag in weeks 5-6)",
            "The two stretches of the seed text, every day: 1 set, 2 sets from week 3, 10-second holds from "
            "week 5. Doubling the holds at once is above the load-progression flag in weeks 5 and 6.",
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
