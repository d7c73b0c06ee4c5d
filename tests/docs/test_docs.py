"""The README and the documentation site stay true to the code.

- `mkdocs build --strict` (mkdocs.yml): a broken link or anchor, a page missing from the nav, or an API object
  that moved fails the build;
- every `mrcnn-edge ...` line in a shell block of README.md and docs/ parses with the CLI's own parser, so a
  renamed or removed flag in the docs fails here. A line that needs a GPU, TensorRT or a camera parses all the
  same, and says so: in a trailing comment (`# needs a GPU`), or the whole block in an HTML comment on the line
  before its fence (`<!-- needs a GPU and TensorRT -->`);
- every python block compiles (compile(), not exec: the README's Python API snippet is run by
  tests/runtime/test_python_api.py), unless the line before its fence says `<!-- not compiled: why -->`;
- every relative link in README.md points at a file of the checkout (GitHub renders it; mkdocs never sees it).
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import require_module

REPO = Path(__file__).resolve().parents[2]
SHELLS = {"bash", "sh", "shell", "console", "zsh"}
# What marks a line or a block as needing hardware a CI machine lacks.
NEEDS = re.compile(r"\bneeds?\b[^\n]*\b(GPU|TensorRT|camera|DeepStream|Jetson)\b", re.I)
# Arguments that only a GPU with TensorRT, or a camera, can run: such a line must carry a NEEDS mark.
DEVICE_ONLY = re.compile(r"\.engine\b|--cuda-graph\b|--dla-core\b|--source[ =]\d+\b")


@dataclass
class Block:
    path: str
    line: int  # 1-based line of the opening fence
    lang: str
    mark: str  # the HTML comment on the line before the fence, or ""
    text: str


def doc_files() -> list[Path]:
    docs = sorted(p for p in (REPO / "docs").rglob("*.md") if "hooks" not in p.parts)
    return [REPO / "README.md", *docs]


def fenced_blocks(text: str, path: str) -> list[Block]:
    """Every fenced block of a markdown text (fences may be indented, as in a list item)."""
    blocks, lines, i = [], text.split("\n"), 0
    while i < len(lines):
        opening = re.match(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)", lines[i])
        if not opening:
            i += 1
            continue
        indent, fence, lang = opening.groups()
        before = lines[i - 1].strip() if i else ""
        mark = before[4:-3].strip() if before.startswith("<!--") and before.endswith("-->") else ""
        body, j = [], i + 1
        while j < len(lines) and not lines[j].strip().startswith(fence):
            body.append(lines[j][len(indent):] if lines[j].startswith(indent) else lines[j])
            j += 1
        blocks.append(Block(path, i + 1, lang.lower(), mark, "\n".join(body)))
        i = j + 1
    return blocks


def logical_lines(text: str) -> list[tuple[int, str]]:
    """(offset of the first line, the line) with backslash-continued lines joined."""
    out, pending, start = [], "", 0
    for n, line in enumerate(text.split("\n")):
        if not pending:
            start = n
        stripped = line.rstrip()
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        out.append((start, pending + line))
        pending = ""
    if pending:
        out.append((start, pending))
    return out


def cli_commands(line: str) -> list[list[str]]:
    """The argument lists of every mrcnn-edge call on a shell line: `mrcnn-edge ARGS` and
    `python -m mrcnn_edge.cli ARGS` (torchrun too), after VAR=value prefixes, split at && || ; |."""
    line = line.strip()
    if line.startswith("$ "):  # a console block's prompt
        line = line[2:]
    tokens = shlex.split(line, comments=True)
    commands, current = [], []
    for token in tokens + [";"]:
        if token in {"&&", "||", ";", "|"}:
            commands.append(current)
            current = []
        else:
            current.append(token)
    found = []
    for command in commands:
        while command and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", command[0]):
            command = command[1:]
        if command and command[0] == "mrcnn-edge":
            found.append(command[1:])
        elif "mrcnn_edge.cli" in command and command.index("mrcnn_edge.cli") > 0 \
                and command[command.index("mrcnn_edge.cli") - 1] == "-m":
            found.append(command[command.index("mrcnn_edge.cli") + 1:])
    return found


def strict_parser():
    """The CLI's parser with abbreviations off: `--epoch` works today as a prefix of `--epochs`, and stops
    working the day another flag starts with it, so the docs spell every flag out."""
    import argparse

    from mrcnn_edge.cli import _parser

    parser = _parser()
    parsers = [parser]
    while parsers:
        p = parsers.pop()
        p.allow_abbrev = False
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                parsers += action.choices.values()
    return parser


def parse_error(args: list[str]) -> str | None:
    """None when the CLI's own parser takes these arguments, else its message."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            strict_parser().parse_args(args)
    except SystemExit as e:
        if e.code == 0 and ({"-h", "--help", "--version"} & set(args)):
            return None
        return err.getvalue().strip().splitlines()[-1] if err.getvalue().strip() else f"exit {e.code}"
    return None


def snippet_problems(text: str, path: str) -> tuple[list[str], int]:
    """(one line per stale or unmarked mrcnn-edge line, number of mrcnn-edge calls checked)."""
    problems, checked = [], 0
    for block in fenced_blocks(text, path):
        if block.lang not in SHELLS:
            continue
        for offset, line in logical_lines(block.text):
            where = f"{path}:{block.line + 1 + offset}"
            try:
                calls = cli_commands(line)
            except ValueError as e:  # shlex: an unclosed quote
                if "mrcnn-edge" in line or "mrcnn_edge.cli" in line:
                    problems.append(f"{where}: cannot split the line ({e}): {line.strip()}")
                continue
            for args in calls:
                checked += 1
                error = parse_error(args)
                if error:
                    problems.append(f"{where}: `mrcnn-edge {shlex.join(args)}`: {error}")
                comment = re.split(r"\s#", line, maxsplit=1)[1:]
                marked = NEEDS.search(block.mark) or (comment and NEEDS.search(comment[0]))
                if DEVICE_ONLY.search(shlex.join(args)) and not marked:
                    problems.append(f"{where}: needs a GPU, TensorRT or a camera but does not say so "
                                    f"(a trailing `# needs a GPU`): {line.strip()}")
    return problems, checked


def python_problems(text: str, path: str) -> tuple[list[str], int]:
    problems, compiled = [], 0
    for block in fenced_blocks(text, path):
        if block.lang not in {"python", "py"} or block.mark.startswith("not compiled"):
            continue
        compiled += 1
        try:
            compile(block.text, f"{path}:{block.line}", "exec")
        except SyntaxError as e:
            problems.append(f"{path}:{block.line + (e.lineno or 0)}: {e.msg}")
    return problems, compiled


def broken_links(text: str, base: Path) -> list[str]:
    """Relative link targets of a markdown text (inline and reference style) that are not files or folders."""
    fences = re.compile(r"^([ \t]*)(`{3,}|~{3,}).*?^\1\2", re.M | re.S)
    prose = re.sub(r"`[^`\n]*`", "", fences.sub("", text))  # links inside code are not links
    targets = re.findall(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", prose)
    targets += re.findall(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", prose, re.M)
    broken = []
    for target in targets:
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("#"):
            continue  # a URL, mailto:, or an anchor in the same file
        path = target.split("#", 1)[0].split("?", 1)[0]
        if not (base / path).exists():
            broken.append(target)
    return broken


def test_site_builds_strictly(tmp_path):
    for module in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python"):
        require_module(module)  # `make setup` installs the docs extra: in CI a missing one fails
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # the theme's banner about its successor, not a finding
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
                             str(REPO / "mkdocs.yml"), "--site-dir", str(site)], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    api = (site / "api" / "index.html").read_text()
    assert "from_path" in api and "to_coco" in api and "export_onnx" in api  # mkdocstrings rendered the docstrings
    assert (site / "repo" / "benchmarks" / "results" / "accuracy" / "index.html").exists()  # docs/hooks served it


def test_every_cli_line_in_the_docs_parses():
    problems, checked = [], 0
    for path in doc_files():
        found, count = snippet_problems(path.read_text(encoding="utf-8"), str(path.relative_to(REPO)))
        problems += found
        checked += count
    assert not problems, "\n".join(problems)
    assert checked >= 60, f"only {checked} mrcnn-edge lines found: is the block reader broken?"


def test_every_python_block_compiles():
    problems, compiled = [], 0
    for path in doc_files():
        found, count = python_problems(path.read_text(encoding="utf-8"), str(path.relative_to(REPO)))
        problems += found
        compiled += count
    assert not problems, "\n".join(problems)
    assert compiled >= 2  # the README's Python API snippet, and its copy on the API page


def test_readme_links_point_at_files():
    readme = REPO / "README.md"
    assert broken_links(readme.read_text(encoding="utf-8"), REPO) == []


# The checks above are our own oracle: each must catch what it is for (planted in text, not in the docs).
PLANTED = """
```bash
mrcnn-edge export -o out/model.onnx && mrcnn-edge surgery out/model.onnx
mrcnn-edge run --model out/model.onnx --sorce video.mp4
mrcnn-edge train --data train.json --images train/ \\
    --size 384x384 --epoch 3
MRCNN_EDGE_THREADS=1 mrcnn-edge quantize out/model.onnx --precision int4
mrcnn-edge run --model out/model.fp16.engine --source video.mp4
mrcnn-edge run --model out/model.onnx --source 0 --out a.mp4   # needs a camera
torchrun --nproc_per_node 2 -m mrcnn_edge.cli train --data t.json --images t/ --lr-scale 2
```

<!-- needs a GPU and TensorRT -->
```bash
mrcnn-edge build --model out/model.fp16.trt.onnx --precision fp16 --dla-core 0
```

```python
print("fine")
```

```python
def broken(:
```

<!-- not compiled: a fragment -->
```python
def fragment(:
```

[ok](README.md) [ok too](docs/) [web](https://example.com/x.md) [anchor](#top) `[code](nowhere.md)`
[gone](docs/no_such_page.md#part) ![img](benchmarks/results/missing.png)
[ref]: setup.py
[stale ref]: tools/no_such_tool.py
"""


def test_the_checks_catch_planted_faults():
    problems, checked = snippet_problems(PLANTED, "planted.md")
    assert checked == 9
    assert [p.split(":")[1] for p in problems] == ["4", "5", "7", "8", "10"], problems
    assert "--sorce" in problems[0] and "--epoch" in problems[1] and "int4" in problems[2]
    assert "does not say so" in problems[3] and "--lr-scale" in problems[4]
    python, compiled = python_problems(PLANTED, "planted.md")
    assert compiled == 2 and len(python) == 1
    assert broken_links(PLANTED, REPO) == ["docs/no_such_page.md#part", "benchmarks/results/missing.png",
                                           "tools/no_such_tool.py"]


@pytest.mark.parametrize("line, calls", [
    ("mrcnn-edge demo", [["demo"]]),
    ("cd /work && pip install -e . && mrcnn-edge demo --frames 5   # comment", [["demo", "--frames", "5"]]),
    ("LD_PRELOAD=x.so tritonserver --model-repository=/models", []),
    ("$ mrcnn-edge models", [["models"]]),
])
def test_cli_commands_are_found_in_a_line(line, calls):
    assert cli_commands(line) == calls
