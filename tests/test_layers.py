"""pixup's layers, low to high: a module imports from its own package or from a lower layer, never from
a higher one or from a sibling in its layer (every import counts: function-level, TYPE_CHECKING,
relative). A new package or top-level module must be placed here before it can be imported at all.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "app" / "pixup"

LAYERS: tuple[frozenset[str], ...] = (
    # The shared bottom: the value sets, the typed errors, where pixup keeps things, safe file
    # writes; and the root package itself (`__version__`).
    frozenset({"pixup", "pixup.choices", "pixup.errors", "pixup.fileio", "pixup.paths"}),
    # Pixel arrays ↔ inference, and files ↔ pixel arrays: neither knows the other.
    frozenset({"pixup.engine", "pixup.imaging"}),
    # Face recovery runs on the engine's sessions and imaging's pixel helpers.
    frozenset({"pixup.faces"}),
    # The importer checks face models with faces/, so models/ sits above it.
    frozenset({"pixup.models"}),
    # What the front ends call: the job service, and the `pixup info` report.
    frozenset({"pixup.jobs", "pixup.info"}),
    # The bridge: the wire schema and the one door every front end goes through.
    frozenset({"pixup.api"}),
    frozenset({"pixup.desktop"}),
    # `pixup gui` opens the desktop window, so the CLI sits on top; `python -m pixup` runs it.
    frozenset({"pixup.cli"}),
    frozenset({"pixup.__main__"}),
)


@dataclass(frozen=True)
class Module:
    name: str
    source: str
    is_package: bool


def unit_of(module: str) -> str:
    """The layer unit a module belongs to: `pixup.jobs.runner` → `pixup.jobs`, `pixup` → `pixup`."""
    parts = module.split(".")
    return ".".join(parts[:2])


def rank(unit: str) -> int | None:
    return next((i for i, layer in enumerate(LAYERS) if unit in layer), None)


def imports_of(module: Module, known: frozenset[str]) -> Iterator[tuple[int, str]]:
    """(line, imported module) for every pixup import anywhere in the module. `from X import a` names
    X.a when that is a module of `known`, else X."""
    here = module.name.split(".")
    package = here if module.is_package else here[:-1]
    for node in ast.walk(ast.parse(module.source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                yield node.lineno, submodule if submodule in known else target


def violations(modules: Mapping[str, Module]) -> list[str]:
    """One line per import that goes up a layer, sideways to a sibling, or to an unplaced unit."""
    known = frozenset(modules)
    found: dict[str, None] = {}  # ordered, one line per import even when it names several things
    for module in modules.values():
        unit = unit_of(module.name)
        own = rank(unit)
        if own is None:
            found[f"{module.name}: {unit} is in no layer of LAYERS"] = None
            continue
        for line, target in imports_of(module, known):
            if target != "pixup" and not target.startswith("pixup."):
                continue
            other = unit_of(target)
            if other == unit:
                continue
            theirs = rank(other)
            if theirs is None or theirs >= own:
                where = ("in no layer" if theirs is None else "the same layer" if theirs == own
                         else "a higher layer")
                found[f"{module.name}:{line} imports {target} ({where})"] = None
    return list(found)


def pixup_modules(root: Path = PACKAGE) -> dict[str, Module]:
    modules: dict[str, Module] = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        name = ".".join(parts)
        modules[name] = Module(name, path.read_text(encoding="utf-8"), is_package)
    return modules


def test_no_import_goes_up_a_layer() -> None:
    modules = pixup_modules()
    assert {"pixup.jobs.service", "pixup.engine.session", "pixup.cli"} <= set(modules)  # walked them all
    assert violations(modules) == []


def test_every_layer_unit_exists() -> None:
    units = {unit_of(name) for name in pixup_modules()}
    placed = set().union(*LAYERS)
    assert placed == units


# ------------------------------------------------------------------ the checker itself

def _injected(name: str, source: str, *, is_package: bool = False) -> list[str]:
    """The violations `source`, put in the tree as module `name`, adds to the tree's own."""
    modules = pixup_modules()
    before = violations(modules)
    modules[name] = Module(name, source, is_package)
    return [line for line in violations(modules) if line not in before]


@pytest.mark.parametrize(
    ("name", "source", "is_package", "expected"),
    [
        # A function-level import up from the engine to the bridge.
        ("pixup.engine.bad", "def f():\n    from pixup.api import schema\n", False,
         "pixup.engine.bad:2 imports pixup.api.schema (a higher layer)"),
        # A plain `import` from imaging up to jobs.
        ("pixup.imaging.bad", "import pixup.jobs.service\n", False,
         "pixup.imaging.bad:1 imports pixup.jobs.service (a higher layer)"),
        # Relative: `from ..api import schema` inside pixup.models.
        ("pixup.models.bad", "from ..api import schema\n", False,
         "pixup.models.bad:1 imports pixup.api.schema (a higher layer)"),
        # Relative from a package's __init__: `from .. import cli` in pixup/faces/__init__.py.
        ("pixup.faces", "from .. import cli\n", True, "pixup.faces:1 imports pixup.cli (a higher layer)"),
        # Under TYPE_CHECKING still counts.
        ("pixup.jobs.bad",
         "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pixup.desktop import window\n", False,
         "pixup.jobs.bad:3 imports pixup.desktop.window (a higher layer)"),
        # Sideways: the engine and imaging do not know each other.
        ("pixup.engine.bad", "from pixup.imaging.decode import read_image\n", False,
         "pixup.engine.bad:1 imports pixup.imaging.decode (the same layer)"),
        # The bottom imports nothing above it.
        ("pixup.errors", "from pixup.engine.cancel import Cancelled\n", False,
         "pixup.errors:1 imports pixup.engine.cancel (a higher layer)"),
    ],
)
def test_checker_catches_an_injected_bad_import(
    name: str, source: str, is_package: bool, expected: str
) -> None:
    assert _injected(name, source, is_package=is_package) == [expected]


def test_checker_allows_imports_downwards_and_within_a_package() -> None:
    source = (
        "from pixup import __version__\nfrom pixup import errors\nfrom pixup.choices import Precision\n"
        "from pixup.engine.cancel import CancelToken\nfrom . import service\nfrom .runner import FileRunner\n"
        "def f():\n    import pixup.models.slot\n"
    )
    assert _injected("pixup.jobs.good", source) == []


def test_checker_refuses_an_unplaced_package() -> None:
    assert _injected("pixup.plugins.thing", "x = 1\n") == [
        "pixup.plugins.thing: pixup.plugins is in no layer of LAYERS"
    ]
    assert _injected("pixup.jobs.bad", "import pixup.plugins.thing\n") == [
        "pixup.jobs.bad:1 imports pixup.plugins.thing (in no layer)"
    ]
