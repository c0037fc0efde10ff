"""Decoding loads no training machinery; features import no corpus code (no import loop)."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

TRAINING = ("phonelstm.train", "phonelstm.training", "torch.utils.tensorboard")


@pytest.mark.parametrize("module", ["phonelstm.decode", "phonelstm.evaluate",
                                    "phonelstm.recognizer"])
def test_decoding_modules_import_without_training(module):
    code = (f"import sys, {module}\n"
            f"print(sorted(m for m in sys.modules for p in {TRAINING!r} "
            f"if m == p or m.startswith(p + '.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]", f"{module} imports {out}"


PACKAGE = Path(__file__).resolve().parents[1] / "phonelstm"


def module_file(module: str) -> Path | None:
    path = PACKAGE.parent.joinpath(*module.split("."))
    return next((p for p in (path.with_suffix(".py"), path / "__init__.py") if p.is_file()), None)


def imported_modules(module: str) -> set[str]:
    """The phonelstm modules ``module`` imports anywhere: top level, in functions and under
    ``TYPE_CHECKING`` alike."""
    found = set()
    for node in ast.walk(ast.parse(module_file(module).read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        found |= {name for name in names if name.startswith("phonelstm") and module_file(name)}
    return found


@pytest.mark.parametrize("module", ["phonelstm.features", "phonelstm.batch"])
def test_features_know_arrays_not_corpora(module):
    """features and batch reach no module of phonelstm.data, even through others, so data
    (datasets, the feature cache) can use features without an import cycle."""
    reached, todo = set(), [module]
    while todo:
        for name in imported_modules(todo.pop()) - reached:
            reached.add(name)
            todo.append(name)
    assert not {m for m in reached if m.startswith("phonelstm.data")}, sorted(reached)
