"""The synthetic sample cohort: determinism, the committed files, ingestion round trip, planted behaviours.

Expected values come from the data themselves through independent routes (pandas
groupby / rolling, the pandera schemas of analysis.schema, scipy) and from the
programme's definitions (docs/clinical-reference.md sections 5 and 7), never from the generator's own
bookkeeping alone.
"""

from __future__ import annotations

import io
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from analysis.errors import IngestError
from analysis.exercises import is_known
from analysis.sample_data import (
    SAMPLE_DIR,
    SHOWCASE_PATIENT,
    SNAPSHOT_DATE,
    generate_cohort,
    load_cohort,
    write_cohort,
)
from analysis.schema import TABLES, pandera_schema, table_spec

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT = pd.Timestamp(SNAPSHOT_DATE)


@pytest.fixture(scope="module")
def cohort():
    return generate_cohort()


@pytest.fixture(scope="module")
def loaded():
    return load_cohort(SAMPLE_DIR)


def _days(frame: pd.DataFrame, column: str, patients: pd.DataFrame) -> pd.Series:
    start = frame["patient_id"].map(patients.set_index("patient_id")["programme_start"])
    return (frame[column].dt.normalize() - start).dt.days


# ---------------------------------------------------------------------------------------------
# determinism and canonical form


def test_same_seed_gives_identical_tables_and_another_seed_does_not(cohort) -> None:
    again = generate_cohort()
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(again, name), getattr(cohort, name))
    pd.testing.assert_frame_equal(again.planted, cohort.planted)
    other = generate_cohort(seed=1)
    assert not other.sessions.equals(cohort.sessions)


def test_every_table_is_canonical_and_passes_the_schema(cohort) -> None:
    for name in TABLES:
        frame = getattr(cohort, name)
        spec = table_spec(name)
        assert list(frame.columns) == spec.column_names
        assert {c: str(t) for c, t in frame.dtypes.items()} == {c: str(pd.Series(dtype=t).dtype)
                                                                for c, t in spec.dtypes.items()}
        assert isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0
        pandera_schema(name).validate(frame, lazy=True)  # ranges, vocabularies, required values


def test_rows_are_sorted_by_the_natural_key_without_duplicates(cohort) -> None:
    for name in TABLES:
        frame = getattr(cohort, name)
        key = list(table_spec(name).key)
        assert not frame.duplicated(key).any(), name
        resorted = frame.sort_values(key, kind="stable").reset_index(drop=True)
        pd.testing.assert_frame_equal(resorted, frame)


def test_sixty_patients_of_three_physios_with_staggered_starts(cohort) -> None:
    pats = cohort.patients
    assert list(pats["patient_id"][:3]) == ["P001", "P002", "P003"] and len(pats) == 60
    assert set(pats["physio_id"]) == {"physio_a", "physio_b", "physio_c"}
    assert pats["age_band"].notna().all()
    starts = pats["programme_start"]
    # early August to early October 2026, weekdays only
    assert starts.min() >= pd.Timestamp("2026-08-03") and starts.max() <= pd.Timestamp("2026-10-07")
    assert (starts.dt.dayofweek < 5).all()
    # 12 weeks = 84 days: some patients finished before the snapshot, some are mid-programme
    finished = starts + pd.Timedelta(days=84) <= SNAPSHOT
    assert 5 <= finished.sum() <= 55


# ---------------------------------------------------------------------------------------------
# the committed files


def test_the_command_regenerates_exactly_the_committed_files(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "analysis.sample_data", "--out", str(tmp_path)], cwd=ROOT, check=True,
        capture_output=True,
    )
    committed = sorted(p.name for p in SAMPLE_DIR.iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == committed
    for name in committed:
        assert (tmp_path / name).read_bytes() == (SAMPLE_DIR / name).read_bytes(), name
    assert sum((SAMPLE_DIR / name).stat().st_size for name in committed) < 5_000_000


def test_committed_files_have_canonical_headers_iso_dates_and_whole_numbers() -> None:
    for name in TABLES:
        header = (SAMPLE_DIR / f"{name}.csv").read_text().splitlines()[0]
        assert header == ",".join(table_spec(name).column_names)
    first = (SAMPLE_DIR / "sessions.csv").read_text().splitlines()[1].split(",")
    assert len(first[1]) == len("2026-09-08 07:30") and first[1][4] == "-" and first[1][13] == ":"
    assert "." not in first[6]  # hold_s written as a whole number
    assert (SAMPLE_DIR / "patients.csv").read_text().splitlines()[1].split(",")[2].count("-") == 2


def test_committed_files_ingest_into_the_generators_tables(cohort, loaded) -> None:
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(loaded, name), getattr(cohort, name), obj=name)
    pd.testing.assert_frame_equal(loaded.planted, cohort.planted)


def test_load_cohort_refuses_a_rejected_row_and_a_missing_file(tmp_path: Path) -> None:
    small = generate_cohort(n_patients=4, seed=3)
    write_cohort(small, tmp_path)
    pain = tmp_path / "pain.csv"
    lines = pain.read_text().splitlines()
    cells = lines[1].split(",")
    cells[2] = "11"  # above the 0-10 scale
    pain.write_text("\n".join([lines[0], ",".join(cells), *lines[2:]]) + "\n")
    with pytest.raises(IngestError, match="pain"):
        load_cohort(tmp_path)
    (tmp_path / "proms.csv").unlink()
    with pytest.raises(IngestError, match="proms"):
        load_cohort(tmp_path)


def test_the_showcase_patients_own_files_ingest_into_their_canonical_rows(cohort) -> None:
    from analysis.ingest import ingest_file

    sessions = ingest_file(SAMPLE_DIR / "my_sessions.csv", patient_id=SHOWCASE_PATIENT, today=SNAPSHOT_DATE)
    assert len(sessions.rejected) == 0
    expected = cohort.sessions[cohort.sessions["patient_id"] == SHOWCASE_PATIENT].reset_index(drop=True)
    expected["performed_at"] = expected["performed_at"].dt.normalize()  # the file has dates only
    assert expected["rpe"].isna().all()  # P001 records no RPE, so the file carries every column
    got = sessions.accepted.sort_values(["performed_at", "exercise", "side"], kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected)

    diary = ingest_file(SAMPLE_DIR / "my_pain_diary.csv", patient_id=SHOWCASE_PATIENT, today=SNAPSHOT_DATE)
    assert len(diary.rejected) == 0
    expected = cohort.pain[cohort.pain["patient_id"] == SHOWCASE_PATIENT].reset_index(drop=True)
    expected["recorded_at"] = expected["recorded_at"].dt.normalize()
    cols = ["patient_id", "recorded_at", "nprs", "flare", "notes"]  # no location in the diary
    got = diary.accepted.sort_values("recorded_at", kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(got[cols], expected[cols])


def test_the_showcase_patients_files_are_written_as_a_patient_would() -> None:
    sessions = (SAMPLE_DIR / "my_sessions.csv").read_text().splitlines()
    assert sessions[0] == "Date,Exercise,Side,Sets,Reps,Hold (s),Pain during (0-10),Notes"
    rows = [line.split(",") for line in sessions[1:]]
    day, month, year = rows[0][0].split("/")
    assert len(day) == 2 and len(month) == 2 and year == "2026"
    assert {r[1] for r in rows} >= {"Knee to chest", "Toe touch"}
    assert {r[2] for r in rows if r[1] == "Knee to chest"} == {"L", "R"}
    diary = (SAMPLE_DIR / "my_pain_diary.csv").read_text().splitlines()
    assert diary[0] == "Date,Pain (0-10),Flare,Notes"
    assert {line.split(",")[2] for line in diary[1:]} <= {"yes", "no"}


# ---------------------------------------------------------------------------------------------
# planted behaviours, checked from the data


def test_nothing_is_dated_on_or_after_the_snapshot(cohort) -> None:
    for name in TABLES:
        frame = getattr(cohort, name)
        for spec in table_spec(name).columns:
            if spec.is_datetime:
                assert (frame[spec.name].dropna() < SNAPSHOT).all(), (name, spec.name)
    for frame, column in ((cohort.sessions, "performed_at"), (cohort.pain, "recorded_at"),
                          (cohort.proms, "completed_at")):
        day = _days(frame, column, cohort.patients)
        assert day.between(0, 83).all(), column  # inside the 12-week programme


def test_at_least_three_patients_fall_silent_for_a_week_before_their_window_ends(cohort) -> None:
    pats = cohort.patients.set_index("patient_id")
    window_end = (pats["programme_start"] + pd.Timedelta(days=83)).clip(upper=SNAPSHOT - pd.Timedelta(days=1))
    last = pd.concat(
        [cohort.sessions.rename(columns={"performed_at": "t"})[["patient_id", "t"]],
         cohort.pain.rename(columns={"recorded_at": "t"})[["patient_id", "t"]]]
    ).groupby("patient_id")["t"].max().dt.normalize()
    silent = (window_end - last.reindex(pats.index)).dt.days >= 7
    assert silent.sum() >= 3
    # ... and they are the ones planted as stopping or never starting
    planted = cohort.planted[cohort.planted["behaviour"] == "stopped_logging"]
    assert set(silent[silent].index) == set(planted["patient_id"])
    assert (last.reindex(planted["patient_id"]).to_numpy() < planted["date"].to_numpy()).all()
    never = planted.loc[planted["detail"] == "never really started", "patient_id"]
    assert len(never) >= 2
    never_sessions = cohort.sessions[cohort.sessions["patient_id"].isin(never)]
    assert (never_sessions.groupby("patient_id")["performed_at"].agg(lambda t: t.dt.normalize().nunique()) <= 6).all()


def test_knee_to_chest_is_prescribed_per_leg_and_builds_up_gently(cohort) -> None:
    rx = cohort.prescriptions
    assert all(is_known(e) for e in set(rx["exercise"]) | set(cohort.sessions["exercise"]))
    knee = rx[rx["exercise"] == "knee_to_chest"]
    assert set(knee["side"]) == {"left", "right"}
    per_patient = knee.groupby("patient_id")["side"].nunique()
    assert (per_patient == 2).all() and len(per_patient) == 60
    first = knee.sort_values("start_date").groupby(["patient_id", "side"]).first()
    # seed: hold 5 s, 10 times each leg, starting gently (one set)
    assert (first["sets"] == 1).all() and (first["reps"] == 10).all() and (first["hold_s"] == 5).all()
    assert knee.groupby("patient_id")["sets"].max().isin([2, 3]).mean() > 0.5
    ham = rx[rx["exercise"] == "hamstring_stretch"]
    assert set(ham["side"]) == {"both"} and ham["hold_s"].between(15, 20).all()
    extras = rx[~rx["exercise"].isin(["knee_to_chest", "hamstring_stretch"])]
    assert 0 < extras["patient_id"].nunique() < 60
    assert set(cohort.sessions["side"][cohort.sessions["exercise"] == "knee_to_chest"]) == {"left", "right"}


def test_prescription_periods_are_contiguous_and_open_ended_only_while_ongoing(cohort) -> None:
    rx = cohort.prescriptions.sort_values(["patient_id", "exercise", "side", "start_date"])
    nxt = rx.groupby(["patient_id", "exercise", "side"])["start_date"].shift(-1)
    inner = nxt.notna()
    assert (rx.loc[inner, "end_date"] + pd.Timedelta(days=1) == nxt[inner]).all()
    last = rx[~inner]
    start = last["patient_id"].map(cohort.patients.set_index("patient_id")["programme_start"])
    ongoing = start + pd.Timedelta(days=84) > SNAPSHOT
    assert last.loc[ongoing, "end_date"].isna().all()
    assert (last.loc[~ongoing, "end_date"] == start[~ongoing] + pd.Timedelta(days=83)).all()
    assert ongoing.any() and (~ongoing).any()
    # a change that is not at a programme start nor on a week boundary
    offset = _days(rx, "start_date", cohort.patients)
    assert ((offset > 0) & (offset % 7 != 0)).any()
    assert rx.groupby("patient_id")["sessions_per_week"].agg(lambda s: set(s) == {5, 7}).any()  # 5 rising to 7


def test_adherence_fades_and_weekends_have_gaps(cohort) -> None:
    s = cohort.sessions
    day = _days(s, "performed_at", cohort.patients)
    per_day = pd.DataFrame({"patient_id": s["patient_id"], "day": day, "dow": s["performed_at"].dt.dayofweek})
    per_day = per_day.drop_duplicates(["patient_id", "day"])
    full = cohort.patients.loc[cohort.patients["programme_start"] + pd.Timedelta(days=84) <= SNAPSHOT, "patient_id"]
    done = per_day[per_day["patient_id"].isin(full)]
    early = (done["day"] < 28).sum() / (4 * len(full))
    late = (done["day"] >= 56).sum() / (4 * len(full))
    assert late < 0.8 * early  # sessions per patient-week, weeks 1-4 vs 9-12
    weekend_share = (per_day["dow"] >= 5).mean()
    assert weekend_share < 2 / 7 * 0.85


def test_responders_fall_from_about_7_to_2_or_3_and_non_responders_do_not(cohort) -> None:
    p = cohort.pain.assign(day=_days(cohort.pain, "recorded_at", cohort.patients))
    outcome = cohort.planted[cohort.planted["behaviour"] == "outcome"].set_index("patient_id")["detail"]
    first = p[p["day"] < 7].groupby("patient_id")["nprs"].mean()
    last = p[p["day"] >= 77].groupby("patient_id")["nprs"].mean()
    both = pd.DataFrame({"first": first, "last": last}).dropna().join(outcome.rename("outcome"))
    resp = both[both["outcome"] == "responder"]
    assert len(resp) >= 5
    assert resp["first"].mean() > 5.5 and resp["last"].between(1.5, 4).mean() > 0.7
    non = both[both["outcome"] != "responder"]
    # MCID 2 points (Ostelo 2008): most non-responders do not improve by it
    assert ((non["first"] - non["last"]) < 2).mean() > 0.8
    assert (non["last"] - non["first"] >= 1).any()  # some worsen


def test_daily_diary_is_mostly_one_evening_rating_with_missing_days(cohort) -> None:
    p = cohort.pain
    assert p["nprs"].between(0, 10).all()
    assert (p["recorded_at"].dt.hour >= 19).mean() > 0.9
    per_day = p.groupby(["patient_id", p["recorded_at"].dt.normalize()]).size()
    assert (per_day == 1).mean() > 0.9 and (per_day == 2).any()
    logged_share = len(per_day) / _days(p, "recorded_at", cohort.patients).groupby(p["patient_id"]).max().add(1).sum()
    assert 0.5 < logged_share < 0.95  # missing days
    hours = cohort.sessions["performed_at"].dt.hour
    assert (hours.between(6, 9) | hours.between(17, 21)).all() and hours.between(6, 9).any()


def test_pain_spikes_rise_at_least_2_points_above_the_trailing_7_day_median(cohort) -> None:
    # flare definition (docs/clinical-reference.md section 5, Costa et al. 2021): >= 2 points above the running baseline
    p = cohort.pain[cohort.pain["recorded_at"].dt.hour >= 19].copy()  # the evening rating
    p["day"] = _days(p, "recorded_at", cohort.patients)
    p = p.set_index(["patient_id", "day"])["nprs"].astype(float)
    grid = p.unstack()  # patient x day with NaN for missing days
    baseline = grid.T.rolling(7, min_periods=3).median().shift(1).T
    rise = (grid - baseline).stack()
    spikes = cohort.planted[cohort.planted["behaviour"] == "pain_spike"]
    spike_rise = rise.reindex(pd.MultiIndex.from_arrays([spikes["patient_id"], spikes["day"].astype(int)])).dropna()
    assert len(spike_rise) >= 10
    assert (spike_rise >= 2).mean() > 0.7
    # flares ticked by patients: some on spike days, some on days with no rise (a separate flag)
    ticked = cohort.pain[cohort.pain["flare"]].copy()
    ticked_rise = rise.reindex(pd.MultiIndex.from_arrays(
        [ticked["patient_id"], _days(ticked, "recorded_at", cohort.patients)])).dropna()
    assert (ticked_rise >= 2).sum() >= 3 and (ticked_rise < 1).sum() >= 3


def test_sessions_carry_painful_sets_rpe_notes_and_a_rapid_load_jump(cohort) -> None:
    s = cohort.sessions
    assert 0 < (s["pain_during"] > 5).mean() < 0.1  # occasional "too much" (Silbernagel 2007)
    assert s["rpe"].notna().any() and s["rpe"].isna().any()
    assert 0 < s["notes"].notna().sum() < 0.05 * len(s) and cohort.pain["notes"].notna().any()
    # acute:chronic ratio of weekly dose (sets x reps x hold) > 1.5 in the planted jump week
    s = s.assign(week=_days(s, "performed_at", cohort.patients) // 7,
                 dose=(s["sets"] * s["reps"] * s["hold_s"].where(s["hold_s"] > 0, 1)).astype(float))
    weekly = s.groupby(["patient_id", "week"])["dose"].sum().unstack(fill_value=0)
    jumps = cohort.planted[cohort.planted["behaviour"] == "load_jump"]
    assert len(jumps) >= 2
    for pid, day in zip(jumps["patient_id"], jumps["day"], strict=True):
        # the jump covers days day..day+6; take the programme week holding most of it
        week = (int(day) + 3) // 7
        acute = weekly.loc[pid, week]
        chronic = weekly.loc[pid, week - 4 : week - 1].mean()
        assert acute / chronic > 1.5, pid


def test_questionnaires_follow_the_pain_course(cohort) -> None:
    q = cohort.proms.assign(day=_days(cohort.proms, "completed_at", cohort.patients))
    assert set(q["day"]) <= {0, *range(35, 42), *range(77, 84)}  # baseline, week 6, week 12
    odi, rmdq = q[q["instrument"] == "odi"], q[q["instrument"] == "rmdq"]
    assert odi["value"].isin(range(6)).all() and rmdq["value"].isin([0, 1]).all()
    odi_n = odi.groupby(["patient_id", "day"])["item"].agg(lambda i: set(i))
    assert all(i <= {str(k) for k in range(1, 11)} for i in odi_n)
    assert odi_n.map(len).isin([9, 10]).all() and (odi_n.map(len) == 9).any()  # a section left out now and then
    assert rmdq.groupby(["patient_id", "day"]).size().eq(24).all()
    # ODI % (sum / (5 x sections answered) x 100) against the mean diary pain of the week around it
    score = odi.groupby(["patient_id", "day"])["value"].agg(lambda v: v.sum() / (5 * len(v)) * 100)
    pain = cohort.pain.assign(day=_days(cohort.pain, "recorded_at", cohort.patients))
    near = [pain[(pain["patient_id"] == pid) & pain["day"].between(d - 3, d + 3)]["nprs"].astype(float).mean()
            for pid, d in score.index]
    ok = ~np.isnan(near)
    rho = stats.spearmanr(score.to_numpy()[ok], np.asarray(near)[ok]).statistic
    assert rho > 0.5
    outcome = cohort.planted[cohort.planted["behaviour"] == "outcome"].set_index("patient_id")["detail"]
    visits = score.reset_index().sort_values(["patient_id", "day"]).groupby("patient_id")["value"]
    change = (visits.last() - visits.first())[visits.size() > 1]
    resp = change[outcome.reindex(change.index) == "responder"]
    assert len(resp) >= 3 and resp.mean() < -10  # ODI MCID 10 points (Ostelo 2008)


def test_planted_truth_matches_the_tables(cohort) -> None:
    planted = cohort.planted
    assert planted["patient_id"].isin(cohort.patients["patient_id"]).all()
    changes = planted[planted["behaviour"] == "prescription_change"]
    rx_starts = set(zip(cohort.prescriptions["patient_id"], _days(cohort.prescriptions, "start_date",
                                                                 cohort.patients), strict=True))
    assert set(zip(changes["patient_id"], changes["day"].astype(int), strict=True)) <= rx_starts
    assert (changes["detail"] == "mid-week").any()
    showcase = planted[planted["patient_id"] == SHOWCASE_PATIENT]
    assert ("outcome", "responder") in set(zip(showcase["behaviour"], showcase["detail"], strict=True))


# ---------------------------------------------------------------------------------------------
# any size, any seed


@given(
    n=st.integers(1, 25),
    weeks=st.integers(1, 16),
    seed=st.integers(0, 2**32 - 1),
    snapshot=st.dates(date(2024, 1, 1), date(2030, 12, 31)),
)
def test_any_cohort_is_canonical_and_before_its_snapshot(n: int, weeks: int, seed: int, snapshot: date) -> None:
    c = generate_cohort(n_patients=n, n_physios=2, weeks=weeks, seed=seed, snapshot=snapshot)
    assert len(c.patients) == n
    cutoff = pd.Timestamp(snapshot)
    for name in TABLES:
        frame = getattr(c, name)
        spec = table_spec(name)
        assert list(frame.columns) == spec.column_names
        assert not frame.duplicated(list(spec.key)).any()
        for col in spec.columns:
            values = frame[col.name].dropna()
            if col.is_datetime:
                assert (values < cutoff).all()
            elif col.is_numeric and len(values):
                assert values.min() >= col.min and values.max() <= col.max
            elif col.allowed is not None:
                assert values.isin(col.allowed).all()
    start = c.patients["programme_start"].min()
    assert cutoff - pd.Timedelta(days=110) <= start
    assert (c.patients["programme_start"].max() <= cutoff - pd.Timedelta(days=44))


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        generate_cohort(n_patients=0)


def test_ids_widen_for_large_cohorts() -> None:
    c = generate_cohort(n_patients=1200, n_physios=30, weeks=2, seed=5)
    assert c.patients["patient_id"].iloc[-1] == "P1200" and c.patients["patient_id"].iloc[0] == "P0001"
    assert c.patients["physio_id"].str.fullmatch(r"physio_[a-z]{2}").all()
    assert (c.sessions["performed_at"] < SNAPSHOT).all()
    assert timedelta(days=0) <= c.sessions["performed_at"].min() - c.patients["programme_start"].min()


# --------------------------------------------------------------------------------------
# the sample moved to the day a store is seeded (live dates, issue 18)


@given(st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31)))
def test_the_sample_moves_by_whole_weeks_to_the_week_ending_on_the_day_of_seeding(today: date) -> None:
    from analysis.sample_data import sample_shift_days

    days = sample_shift_days(today)
    moved = SNAPSHOT_DATE + timedelta(days=days)
    assert days % 7 == 0 and moved.weekday() == SNAPSHOT_DATE.weekday()  # Friday stays Friday
    assert 0 <= (today - moved).days <= 6  # the moved snapshot is today or within the 6 days before


@given(st.integers(min_value=-200, max_value=200).map(lambda w: 7 * w))
def test_moving_the_sample_files_keeps_every_row_and_moving_back_restores_them(days: int) -> None:
    from analysis.sample_data import shift_sample_csv

    for table in TABLES:
        original = (SAMPLE_DIR / f"{table}.csv").read_bytes()
        moved = shift_sample_csv(table, original, days)
        assert shift_sample_csv(table, moved, -days) == original.replace(b"\r\n", b"\n")
        a, b = (pd.read_csv(io.BytesIO(x), dtype=str, keep_default_na=False) for x in (original, moved))
        assert a.shape == b.shape
        for column in table_spec(table).columns:
            if column.is_datetime and days:
                filled = a[column.name] != ""
                assert (b.loc[~filled, column.name] == "").all()
                shift = pd.to_datetime(b.loc[filled, column.name]) - pd.to_datetime(a.loc[filled, column.name])
                assert (shift == pd.Timedelta(days=days)).all()
            else:
                assert a[column.name].equals(b[column.name])
