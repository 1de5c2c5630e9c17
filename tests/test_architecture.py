"""The shape of the library: layers, no import cycles, no app in the library, settings passed on.

Every module of ``analysis/`` is read with :mod:`ast` (nothing is imported) and
every import counts: top-level, inside functions and under ``TYPE_CHECKING``. A
module may import modules of its own layer or of lower layers, never of a higher
one, and the imports must not form a cycle.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "analysis"

#: The layers, lowest first. A module may import its own layer and the layers before it.
LAYERS: dict[str, tuple[str, ...]] = {
    # what everything else stands on: errors, where files are, thresholds, the clock, the tables, vocabularies
    "foundations": (
        "analysis", "analysis.errors", "analysis.paths", "analysis.settings", "analysis.timeline", "analysis.schema",
        "analysis.headers", "analysis.exercises", "analysis.instruments", "analysis.escaping", "analysis.reading",
        "analysis.validation", "analysis.limits", "analysis.bounded_reading", "analysis.private_files",
    ),
    # statistics and domain rules on the canonical tables (pure: no store, no files)
    "statistics": (
        "analysis.prescriptions", "analysis.adherence", "analysis.trends", "analysis.outcomes", "analysis.scoring",
        "analysis.flags", "analysis.cohort", "analysis.models", "analysis.patient_detail", "analysis.programmes",
        "analysis.programme_templates", "analysis.entries", "analysis.questionnaires", "analysis.plots",
        "analysis.expected", "analysis.plots_expected", "analysis.charts", "analysis.reasons",
    ),
    # data in and out: reading files, app exports, FHIR / Open mHealth, pseudonymised and spreadsheet exports
    "data in/out": (
        "analysis.ingest", "analysis.tables", "analysis.importers", "analysis.importers.fhir",
        "analysis.importers.fitnotes",
        "analysis.importers.hevy", "analysis.importers.strong", "analysis.importers.workouts", "analysis.interop",
        "analysis.interop.fhir", "analysis.interop.omh", "analysis.export", "analysis.pseudonyms",
        "analysis.templates", "analysis.sample_data", "analysis.distributed", "analysis.corrections",
    ),
    # persistence only
    "store": ("analysis.store",),
    # who may do what, the accounts, and the facade every read and user-checked write goes through
    "access": ("analysis.roles", "analysis.accounts", "analysis.access", "analysis.login_sessions"),
    # reports for people
    "reports": ("analysis.report", "analysis.report_pdf", "analysis.research"),
    # entry points
    "cli": ("analysis.cli", "analysis.store_cli"),
}
LAYER_OF = {module: rank for rank, modules in enumerate(LAYERS.values()) for module in modules}
LAYER_NAMES = list(LAYERS)

KNOWN_CYCLES: tuple[frozenset[str], ...] = ()

#: Packages the library must never import (the app, the benchmark, the app framework).
FORBIDDEN = ("dashboards", "benchmarks", "streamlit")


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = _modules()


def _imported_names(module: str, path: Path) -> list[tuple[str, int]]:
    """Every dotted name ``module`` imports (absolute; relative imports resolved), with its line."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    names = []
    for node in ast.walk(tree):  # every import: top-level, in functions, under TYPE_CHECKING
        if isinstance(node, ast.Import):
            names += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            names += [(f"{base}.{alias.name}", node.lineno) for alias in node.names]
            names.append((base, node.lineno))
    return names


def _resolve(name: str) -> str | None:
    """The analysis module a dotted name refers to (the longest module prefix), or None."""
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        candidate = ".".join(parts[:i])
        if candidate in MODULES:
            return candidate
    return None


def _graph() -> dict[str, dict[str, int]]:
    """Module -> {imported analysis module: first line}."""
    graph: dict[str, dict[str, int]] = {}
    for module, path in MODULES.items():
        edges: dict[str, int] = {}
        for name, line in _imported_names(module, path):
            target = _resolve(name)
            if target is not None and target != module:
                edges.setdefault(target, line)
        graph[module] = edges
    return graph


GRAPH = _graph()


def _cycles(graph: dict[str, dict[str, int]]) -> list[frozenset[str]]:
    """Strongly connected components with more than one module (Tarjan), i.e. the import cycles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_every_module_has_a_layer() -> None:
    assert sorted(set(MODULES) - set(LAYER_OF)) == [], "add the new module to LAYERS"
    assert sorted(set(LAYER_OF) - set(MODULES)) == [], "LAYERS names a module that does not exist"


def test_no_import_cycles() -> None:
    cycles = [c for c in _cycles(GRAPH) if not any(c <= known for known in KNOWN_CYCLES)]
    assert cycles == [], f"import cycles: {[sorted(c) for c in cycles]}"


def test_the_cycle_check_finds_a_cycle_through_a_function_local_import() -> None:
    graph = {"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}}
    assert _cycles(graph) == [frozenset({"a", "b", "c"})]
    source = "def f():\n    from analysis.store import Store\n"
    tree = ast.parse(source)
    assert any(isinstance(n, ast.ImportFrom) and n.module == "analysis.store" for n in ast.walk(tree))


def test_no_import_from_a_lower_layer_to_a_higher_one() -> None:
    upward = [
        f"{module} ({LAYER_NAMES[LAYER_OF[module]]}) imports {target} ({LAYER_NAMES[LAYER_OF[target]]}) "
        f"at line {line}"
        for module, edges in GRAPH.items() for target, line in edges.items()
        if LAYER_OF[target] > LAYER_OF[module]
    ]
    assert upward == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_the_library_never_imports_the_app_the_benchmark_or_streamlit(module: str) -> None:
    bad = [(name, line) for name, line in _imported_names(module, MODULES[module])
           if name.split(".")[0] in FORBIDDEN]
    assert bad == [], f"{module} imports {bad}"


def test_the_store_persists_only() -> None:
    # no role policy, no users file, no facade below the access layer (the layers say it; this says why)
    assert not {"analysis.roles", "analysis.accounts", "analysis.access"} & set(GRAPH["analysis.store"])
    text = MODULES["analysis.store"].read_text(encoding="utf-8")
    for word in ("user.role", "AccessDenied(", "add_user(", "PHYSIO", "ADMIN"):
        assert word not in text, f"analysis/store.py mentions {word!r}"


# --------------------------------------------------------------------------------------
# settings are passed on explicitly, never re-defaulted in the middle


def _functions_taking_settings() -> dict[tuple[str, str], ast.FunctionDef]:
    out = {}
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef):
                names = [a.arg for a in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs)]
                if "settings" in names:
                    out[(module, node.name)] = node
    return out


def _bindings(module: str) -> dict[str, tuple[str, str]]:
    """Local name -> (module, function) for the functions a module defines or imports from analysis."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    out = {node.name: (module, node.name) for node in tree.body if isinstance(node, ast.FunctionDef)}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("analysis"):
            for alias in node.names:
                out[alias.asname or alias.name] = (node.module, alias.name)
    return out


def test_functions_with_settings_pass_them_on() -> None:
    takes = _functions_taking_settings()
    missing = []
    for (module, name), func in takes.items():
        bound = _bindings(module)
        for call in ast.walk(func):
            if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name):
                continue
            target = bound.get(call.func.id)
            if target is None or target not in takes or target == (module, name):
                continue
            target_def = takes[target]
            params = [a.arg for a in (*target_def.args.posonlyargs, *target_def.args.args)]
            positional = params.index("settings") < len(call.args) if "settings" in params else False
            keywords = {k.arg for k in call.keywords}
            if "settings" not in keywords and None not in keywords and not positional:
                missing.append(f"{module}.{name} (line {call.lineno}) calls {target[1]} without settings")
    assert missing == []


# --------------------------------------------------------------------------------------
# importing the library does nothing


def test_importing_every_module_is_side_effect_free(tmp_path: Path) -> None:
    data = tmp_path / "data"
    code = ("import importlib, sys\n"
            f"for name in {sorted(MODULES)!r}:\n"
            "    importlib.import_module(name)\n")
    env = {**os.environ, "REHABTRACK_DATA_DIR": str(data), "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    env.pop("REHABTRACK_USERS_FILE", None)
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no data directory, key, store or log file made
    assert "streamlit" not in done.stderr.lower()
