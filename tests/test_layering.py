"""The layers stated in docs/architecture.md hold: every module's imports are read.

The table between ``<!-- layers:start -->`` and ``<!-- layers:end -->`` in
``docs/architecture.md`` is the rule: for each layer, the modules it holds, the layers
of this package it may import, and the outside libraries it must not import. Imports
inside functions count too.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "pipecat_realtime_openai"
ARCHITECTURE = ROOT / "docs" / "architecture.md"
NAME = "pipecat_realtime_openai"


@dataclass(frozen=True)
class Layer:
    name: str
    modules: tuple[str, ...]  # "core/" (a folder) or "settings.py" (a file)
    may_import: frozenset[str]
    must_not_import: frozenset[str]

    def holds(self, relative: str) -> bool:
        return any(
            relative.startswith(m) if m.endswith("/") else relative == m for m in self.modules
        )


def _names(cell: str) -> frozenset[str]:
    return frozenset(n.strip(" `") for n in cell.split(",") if n.strip(" `-—"))


def layers() -> list[Layer]:
    text = ARCHITECTURE.read_text()
    table = text.split("<!-- layers:start -->")[1].split("<!-- layers:end -->")[0]
    found = []
    for line in table.strip().splitlines()[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        modules = tuple(m.strip(" `") for m in cells[1].split(",") if m.strip(" `"))
        found.append(Layer(cells[0], modules, _names(cells[2]), _names(cells[3])))
    return found


def layer_of(relative: str, all_layers: list[Layer]) -> Layer:
    matches = [layer for layer in all_layers if layer.holds(relative)]
    assert len(matches) == 1, f"{relative} is in {len(matches)} layers of docs/architecture.md"
    return matches[0]


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import"
            if node.module == NAME:
                # "from pipecat_realtime_openai import events" names a module.
                names.update(f"{NAME}.{alias.name}" for alias in node.names)
            elif node.module:
                names.add(node.module)
    return names


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def relative_of(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def test_every_module_is_in_exactly_one_layer():
    all_layers = layers()
    assert {"core", "protocol", "audio", "service"} <= {layer.name for layer in all_layers}
    for path in modules():
        layer_of(relative_of(path), all_layers)


def test_imports_follow_the_layers():
    all_layers = layers()
    broken = []
    for path in modules():
        relative = relative_of(path)
        layer = layer_of(relative, all_layers)
        for name in sorted(imports_of(path)):
            top = name.split(".")[0]
            if name == NAME:
                target = layer_of("__init__.py", all_layers).name
                if target != layer.name and target not in layer.may_import:
                    broken.append(f"{relative} ({layer.name}) imports {name} ({target})")
            elif top == NAME:
                rest = name[len(NAME) + 1 :].replace(".", "/")
                target = next(
                    (
                        other.name
                        for other in all_layers
                        if other.holds(rest + ".py") or other.holds(rest + "/")
                    ),
                    None,
                )
                if target is None:
                    target = layer_of(rest + "/__init__.py", all_layers).name
                if target != layer.name and target not in layer.may_import:
                    broken.append(f"{relative} ({layer.name}) imports {name} ({target})")
            elif top in layer.must_not_import:
                broken.append(f"{relative} ({layer.name}) imports {name}")
    assert not broken, "layering broken:\n" + "\n".join(broken)


def test_the_check_sees_a_broken_import(tmp_path: Path):
    # The reader must see imports inside functions, or the rule above could not fail.
    module = tmp_path / "m.py"
    module.write_text("def f():\n    import asyncio\n    from pipecat.frames import frames\n")
    assert imports_of(module) == {"asyncio", "pipecat.frames"}


def test_the_sans_io_layers_forbid_the_io_libraries():
    pure = {layer.name: layer for layer in layers() if layer.name in ("core", "protocol", "audio")}
    for layer in pure.values():
        assert {"pipecat", "websockets", "asyncio"} <= layer.must_not_import, layer.name
    assert re.search(r"\bservice\b", " ".join(sorted(pure["core"].may_import))) is None


def test_the_core_runs_without_pipecat_or_websockets():
    # Imports are read above; this checks what importing the core really loads (the
    # package's top level loads the Pipecat side only when one of its names is used).
    code = (
        "import sys\n"
        "import pipecat_realtime_openai.core.session\n"
        "loaded = {m.split('.')[0] for m in sys.modules}\n"
        "print(sorted(loaded & {'pipecat', 'websockets'}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]", result.stdout
