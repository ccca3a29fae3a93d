"""The README's shell blocks paste as they are: valid bash, every file read made by an earlier block or
committed, ``--user-dir`` an absolute or computed path, and the quick start for every family up front."""
from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest

from fairseq_nat_study.cli.main import SUBCOMMANDS

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
FAIRSEQ_TOOLS = {"fairseq-train", "fairseq-generate", "fairseq-interactive", "fairseq-validate"}
#: options whose value is a path the command writes (a file or a folder)
WRITE_OPTS = {"--out", "--destdir", "--save-dir", "--output"}
#: options whose values are paths the command reads (``--path`` may join several with ``:``)
READ_OPTS = {"--path", "--data", "--teacher", "--ar", "--nat", "--hyp", "--ref", "--stats", "--config", "--runs",
             "--inputs", "--trainpref", "--validpref", "--testpref"}
#: what ``make <target>`` leaves behind
MAKE_WRITES = {"demo": [".venv", "runs/demo"], "test": [".venv"], "findings": [".venv", "runs/findings"],
               "venv": [".venv"], "docs": [".venv", "site"]}
SUBST = "__COMMAND_SUBSTITUTION__"


def shell_blocks(text: str) -> list[tuple[int, int, str]]:
    """``(first line, last line, body)`` of every fenced ```bash block (1-based line numbers)."""
    blocks, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        if lines[i].strip() == "```bash":
            j = next(k for k in range(i + 1, len(lines)) if lines[k].strip() == "```")
            blocks.append((i + 1, j + 1, "\n".join(lines[i + 1:j])))
            i = j
        i += 1
    return blocks


def commands(body: str) -> list[list[str]]:
    """The simple commands of a block, as token lists: continuations joined, comments dropped, split at
    ``|``, ``&&``, ``||`` and ``;``; redirections kept as tokens; ``$(...)`` replaced by :data:`SUBST`."""
    joined = re.sub(r"\\\n", " ", body)
    joined = re.sub(r"\$\([^()]*\)", SUBST, joined)
    out: list[list[str]] = []
    for line in joined.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split, lexer.commenters = True, "#"
        current: list[str] = []
        for tok in lexer:
            if tok in {"|", "&&", "||", ";"}:
                out.append(current)
                current = []
            else:
                current.append(tok)
        out.append(current)
    return [c for c in out if c]


def reads_and_writes(cmd: list[str]) -> tuple[list[str], list[str]]:
    """The paths one command reads and writes, by the conventions of the tools the README uses."""
    while cmd and re.fullmatch(r"[A-Z_]+=\S*", cmd[0]):  # VAR=value prefixes
        cmd = cmd[1:]
    reads, writes = [], []
    tool, args = cmd[0], cmd[1:]
    for i, tok in enumerate(args):
        nxt = args[i + 1] if i + 1 < len(args) else None
        if tok == ">" and nxt:
            writes.append(nxt)
        elif tok in WRITE_OPTS and nxt:
            writes.append(nxt)
        elif tok in READ_OPTS and nxt:
            reads += nxt.split(":")
    if tool in FAIRSEQ_TOOLS:
        reads.append(args[0])
    elif tool == "grep":
        reads.append([a for a in args if a != ">"][-1] if ">" not in args else args[args.index(">") - 1])
    elif tool in {"source", "."} or tool.endswith(".sh"):
        reads.append(args[0] if tool in {"source", "."} else tool)
    elif tool == "make":
        writes += [w for target in args for w in MAKE_WRITES[target]]
    return reads, writes


def tracked_files() -> set[str]:
    return set(subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split())


def _norm(path: str) -> str:
    return str(Path(path)).rstrip("/")


def test_parser_reads_and_writes() -> None:
    """The parser itself: redirections, options, positional data, pipes and computed --user-dir."""
    cmds = commands('fairseq-generate d/bin --user-dir "$(x y)" --path a.pt:b.pt > o.gen && grep ^H- o.gen | cut -f3 > h')
    assert [c[0] for c in cmds] == ["fairseq-generate", "grep", "cut"]
    assert reads_and_writes(cmds[0]) == (["a.pt", "b.pt", "d/bin"], ["o.gen"])
    assert SUBST in cmds[0]
    assert reads_and_writes(cmds[1]) == (["o.gen"], [])
    assert reads_and_writes(["DRY_RUN=1", "examples/x/run.sh"]) == (["examples/x/run.sh"], [])


def test_readme_blocks_are_valid_bash() -> None:
    blocks = shell_blocks(README.read_text())
    assert len(blocks) >= 8
    for first, _, body in blocks:
        result = subprocess.run(["bash", "-n"], input=body, capture_output=True, text=True)
        assert result.returncode == 0, f"README line {first}: {result.stderr}"


def test_readme_blocks_read_only_what_exists() -> None:
    """Every path a block reads was written by an earlier command or is committed."""
    tracked, written = tracked_files(), []
    for first, _, body in shell_blocks(README.read_text()):
        for cmd in commands(body):
            reads, writes = reads_and_writes(cmd)
            for path in map(_norm, reads):
                made = any(path == w or path.startswith(w + "/") for w in written)
                assert made or path in tracked, f"README block at line {first}: {cmd[0]} reads {path}, which " \
                                                f"no earlier block writes and which is not committed"
            written += map(_norm, writes)


def test_readme_user_dir_works_from_any_folder() -> None:
    """fairseq's CLIs get --user-dir, as an absolute path or one computed by a command."""
    seen = 0
    for first, _, body in shell_blocks(README.read_text()):
        for cmd in commands(body):
            if cmd[0] in FAIRSEQ_TOOLS and cmd[0] != "fairseq-preprocess":
                assert "--user-dir" in cmd, f"README line {first}: {cmd[0]} without --user-dir"
                value = cmd[cmd.index("--user-dir") + 1]
                assert value == SUBST or value.startswith("/"), f"README line {first}: --user-dir {value} is relative"
                seen += 1
    assert seen >= 10


def test_readme_tools_exist() -> None:
    """Every ``fairseq-nat-study`` subcommand a block runs exists, and the table names every one there is."""
    text = README.read_text()
    used = {cmd[1] for _, _, body in shell_blocks(text) for cmd in commands(body) if cmd[0] == "fairseq-nat-study"}
    assert used and used <= set(SUBCOMMANDS)
    table = next(line for line in text.splitlines() if line.startswith("| `fairseq-nat-study` |"))
    assert set(re.findall(r"`([a-z][a-z-]*)`", table)) - {"fairseq-nat-study"} == set(SUBCOMMANDS)


@pytest.mark.parametrize("needle", ["nat_study_tr_", "nat_study_nat_", "nat_study_glat_", "nat_study_ga_",
                                    "nat_study_fl_", "fairseq-nat-study study", "run.sh"])
def test_readme_quick_start_in_first_100_lines(needle: str) -> None:
    """Each use (train and decode every family, the study, a recipe) has a block ending by line 100."""
    blocks = [(last, body) for _, last, body in shell_blocks(README.read_text()) if needle in body]
    assert blocks and blocks[0][0] <= 100, f"no shell block with {needle!r} in README's first 100 lines"
    if needle.startswith("nat_study_"):
        assert "fairseq-train" in blocks[0][1] and "fairseq-generate" in blocks[0][1]


def test_readme_front_door() -> None:
    """At most 200 lines, and the first commands are exactly `make demo` and `make test`."""
    text = README.read_text()
    assert len(text.splitlines()) <= 200
    first_block = shell_blocks(text)[0][2]
    assert [cmd[:2] for cmd in commands(first_block)] == [["make", "demo"], ["make", "test"]]
