"""The project stands on its own: nothing in it reads or cites files outside the repository.

A user who clones rehabtrack has only the repository. A path to a folder beside the checkout or a citation of a
document that is not in the repository would make a test pass on the developers' machine and fail on
theirs, or send a physio to a file they cannot open.
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import REFERENCE_DIR, ROOT

CHECKED = ["analysis", "dashboards", "benchmarks", "notebooks", "tests", "data", "schemas", "scripts", "docs"]
SUFFIXES = {".py", ".ipynb", ".md", ".toml", ".csv", ".json", ".sh", ".txt", ".cfg"}
# written so that this file does not match itself
OUTSIDE = re.compile("|".join([r"\.\./" + "shared", "domain" + r"\.md", r"shared/" + "samples"]))


def _project_files():
    for top in CHECKED:
        for path in sorted((ROOT / top).rglob("*")):
            if path.is_file() and path.suffix in SUFFIXES and ".ipynb_checkpoints" not in path.parts:
                yield path
    for name in ["README.md", "run.sh", "test.sh", "pyproject.toml", "requirements.txt", "requirements-dev.txt"]:
        yield ROOT / name


def test_no_file_reads_or_cites_anything_outside_the_repository() -> None:
    offenders = []
    for path in _project_files():
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
            if OUTSIDE.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}")
    assert not offenders, "references to files outside the repository:\n" + "\n".join(offenders)


def test_the_check_above_can_fail() -> None:
    # the pattern must catch the forms that were in the code before
    before = ["SHARED = ROOT.parent / '../" + "shared'", "see domain" + ".md section 2",
              "../" + "shared/" + "samples/x.csv"]
    for text in before:
        assert OUTSIDE.search(text), text


@pytest.mark.parametrize("name", ["sleepstudy.csv", "strong/strong_ios_export.csv", "hevy/hevy_export_head.csv"])
def test_reference_files_are_in_the_repository_with_their_source(name: str) -> None:
    assert (REFERENCE_DIR / name).is_file()
    assert name in (REFERENCE_DIR / "SOURCES.md").read_text(encoding="utf-8")


def test_clinical_reference_exists_and_cites_the_literature() -> None:
    text = (ROOT / "docs" / "clinical-reference.md").read_text(encoding="utf-8")
    for citation in ["Ostelo", "Jacobson", "Williams", "Hill"]:
        assert citation in text, citation
