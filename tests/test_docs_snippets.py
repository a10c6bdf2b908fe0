"""Every code snippet in the README and the documentation runs as written, without warnings.

A reader copies a snippet and runs it; it must work and print no warning. Each page's
Python blocks run in order, in one namespace, in a fresh folder, with every warning raised
as an error; then the ``sklearn-mae ...`` lines of its bash blocks run as commands there.
A block that imports an optional package that is not installed (``ray``) is reported as
skipped. A block that appears on several pages (the quick example) runs once.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import shlex
import subprocess
import sys
import textwrap
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
GENERATED = ("_build", "generated", "auto_examples", "gen_modules", "_templates",
             "sg_execution_times.rst")
TIME_NOTE = re.compile(r"~\s*\d+(\.\d+)?\s*(s|min)\b|\babout \d+(\.\d+)? ?(s|min)\b")
TRAINS = re.compile(r"\.fit\(|\.fit_transform\(|cross_val_score\(")


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    language: str
    code: str


def pages() -> list[Path]:
    found = [ROOT / "README.md"]
    for path in sorted(DOCS.rglob("*")):
        if path.suffix in (".rst", ".md") and not set(GENERATED) & set(
                path.relative_to(DOCS).parts):
            found.append(path)
    return found


def markdown_blocks(path: Path, text: str) -> list[Block]:
    blocks = []
    for match in re.finditer(r"^```(\w+)[^\n]*\n(.*?)^```", text, re.M | re.S):
        line = text.count("\n", 0, match.start()) + 2
        blocks.append(Block(_name(path), line, match.group(1), match.group(2)))
    return blocks


def rst_blocks(path: Path, text: str) -> list[Block]:
    """The bodies of ``.. code-block:: LANGUAGE`` directives."""
    lines = text.splitlines()
    blocks = []
    for i, line in enumerate(lines):
        match = re.match(r"^(\s*)\.\. code-block:: (\w+)", line)
        if not match:
            continue
        indent = len(match.group(1))
        body, j = [], i + 1
        while j < len(lines) and re.match(rf"^\s{{{indent + 1},}}:\w[\w-]*:", lines[j]):
            j += 1  # directive options
        start = j
        while j < len(lines) and (not lines[j].strip()
                                  or len(lines[j]) - len(lines[j].lstrip()) > indent):
            body.append(lines[j])
            j += 1
        code = textwrap.dedent("\n".join(body)).strip("\n") + "\n"
        blocks.append(Block(_name(path), start + 1, match.group(2), code))
    return blocks


def blocks_of(path: Path) -> list[Block]:
    text = path.read_text(encoding="utf-8")
    return markdown_blocks(path, text) if path.suffix == ".md" else rst_blocks(path, text)


def missing_modules(block: Block) -> list[str]:
    """Top-level modules a Python block imports that are not installed."""
    names = set()
    for node in ast.walk(ast.parse(block.code)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return sorted(name for name in names if importlib.util.find_spec(name) is None)


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


def collect() -> list:
    """One case per page (its runnable blocks, in order) and one per block left out."""
    cases, seen = [], set()
    for path in pages():
        runnable, skipped = [], []
        for block in blocks_of(path):
            if block.language == "python":
                if block.code in seen:
                    continue
                seen.add(block.code)
                (skipped if missing_modules(block) else runnable).append(block)
            elif block.language == "bash" and commands(block):
                runnable.append(block)
        if runnable:
            marks = [pytest.mark.slow] if _name(path) in SLOW else []
            cases.append(pytest.param(runnable, id=_name(path), marks=marks))
        for block in skipped:
            reason = (f"{block.page}:{block.line} needs {', '.join(missing_modules(block))}, "
                      "not installed")
            cases.append(pytest.param([block], id=f"{block.page}:{block.line}",
                                      marks=pytest.mark.skip(reason=reason)))
    return cases


def commands(block: Block) -> list[list[str]]:
    """The ``sklearn-mae ...`` command lines of a bash block."""
    return [shlex.split(line, comments=True) for line in block.code.splitlines()
            if line.startswith("sklearn-mae ")]


# pages whose snippets train several default-sized models (each still well under a minute)
SLOW = {"README.md", "docs/install.rst", "docs/user_guide/dask.rst",
        "docs/user_guide/features.rst", "docs/user_guide/parameters.rst"}
CASES = collect()


def run_python(block: Block, namespace: dict) -> None:
    code = compile(block.code, f"{block.page}:{block.line}", "exec")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # skorch's internals use deprecated torch APIs; as in the test suite's settings
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="skorch")
        exec(code, namespace)


def run_command(argv: list[str], block: Block) -> None:
    script = Path(sys.executable).with_name("sklearn-mae")
    argv = ([str(script)] if script.exists() else [sys.executable, "-m", "sklearn_mae"]) + argv[1:]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONWARNINGS": "error"})
    where = f"{block.page}:{block.line}: {shlex.join(argv[1:])}"
    assert result.returncode == 0, f"{where} failed:\n{result.stderr}"
    assert result.stderr == "", f"{where} printed to stderr:\n{result.stderr}"


@pytest.mark.parametrize("blocks", CASES)
def test_snippets_run_without_warnings(blocks, tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__main__"}
    for block in blocks:
        if block.language == "python":
            run_python(block, namespace)
        else:
            for argv in commands(block):
                run_command(argv, block)


def test_every_snippet_is_collected():
    """The collector finds the snippets: a change of markup must not silently drop any."""
    collected = {block.code for case in CASES for block in case.values[0]}
    found = {block.code for path in pages() for block in blocks_of(path)
             if block.language == "python"}
    assert found <= collected
    assert len(found) >= 25
    pages_run = {case.id.split(":")[0] for case in CASES}
    assert {"README.md", "docs/index.rst", "docs/user_guide/cli.rst"} <= pages_run


def test_snippets_that_train_say_how_long():
    """A snippet that fits a model tells the reader roughly how long it takes."""
    silent = [f"{block.page}:{block.line}" for path in pages() for block in blocks_of(path)
              if block.language == "python" and TRAINS.search(block.code)
              and not TIME_NOTE.search(block.code)]
    assert not silent, f"say how long these take, e.g. '# ~5 s on 2 CPU cores': {silent}"
