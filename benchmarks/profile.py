"""Seconds per component of ``cohort_summary``, measured from outside the library.

The library computes; the benchmark times. :func:`component_timer` installs a
timing wrapper around each public stage that :func:`analysis.cohort.cohort_summary`
calls (the names it imports into :mod:`analysis.cohort`), for the duration of a
``with`` block, and removes it afterwards::

    with component_timer() as seconds:
        cohort_summary(cohort, as_of=as_of)
    seconds  # {"adherence_summary": 1.2, "pain_trends": 0.6, ..., "assembly": 0.1}

``assembly`` is the rest of the call (aligning the components on the patient
and the attention score): the total minus the stages. The wrappers cost a few
microseconds per call, nothing against stages of milliseconds to seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

#: The stages of ``cohort_summary``, as named in :mod:`analysis.cohort`.
STAGES: tuple[str, ...] = (
    "adherence_summary", "pain_trends", "pain_change", "score_proms", "prom_change", "safety_flags_and_flare_ratings",
    "flag_counts",
)


@contextmanager
def component_timer(module: Any = None, stages: tuple[str, ...] = STAGES) -> Iterator[dict[str, float]]:
    """Time each stage of ``cohort_summary`` while the block runs (see the module docstring).

    Parameters
    ----------
    module
        The module whose names are wrapped (default :mod:`analysis.cohort`).
    stages
        Names of the functions to time, as bound in ``module``.

    Yields
    ------
    dict
        Filled as the block runs: wall-clock seconds per stage (summed over
        calls), and after the block ``"assembly"``: the block's total minus the stages.
    """
    if module is None:
        import analysis.cohort as module

    seconds: dict[str, float] = {}
    originals: dict[str, Callable[..., Any]] = {name: getattr(module, name) for name in stages}

    def timed(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - began

        return wrapper

    for name, func in originals.items():
        setattr(module, name, timed(name, func))
    began = time.perf_counter()
    try:
        yield seconds
    finally:
        total = time.perf_counter() - began
        for name, func in originals.items():
            setattr(module, name, func)
        seconds["assembly"] = max(total - sum(seconds.get(n, 0.0) for n in stages), 0.0)
