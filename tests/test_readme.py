"""The documentation against the code: every command shown in a code block of README.md and
docs/*.md uses only flags its ``--help`` lists, and names only files that exist."""

from __future__ import annotations

import functools
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]

# What a command invokes -> the arguments that print its help.
PROGRAMS = {
    "obj_counting.py": ["obj_counting.py"],
    "deeplearningg_reID.py": ["deeplearningg_reID.py"],
    "health_check.py": ["health_check.py"],
    "scripts/get_test_data.py": ["scripts/get_test_data.py"],
    "benchmarks.run": ["-m", "benchmarks.run"],
    "benchmarks.stress": ["-m", "benchmarks.stress"],
    "reid.evaluation.crops": ["-m", "reid.evaluation.crops"],
    "reid.evaluation.video": ["-m", "reid.evaluation.video"],
    "reid.tracking.mot": ["-m", "reid.tracking.mot"],
}
OUTPUT_BLOCKS = {"text", "json", "python"}  # what a program prints, not commands
SHELL_OPERATORS = {"&&", "||", ";", "|", "&"}
FILE_SUFFIXES = (".py", ".mp4", ".txt", ".md", ".sha256", ".toml")


def code_blocks(page: Path) -> list[tuple[str, list[str]]]:
    """The fenced code blocks of a Markdown page: (language, lines)."""
    blocks, language, lines = [], None, []
    for line in page.read_text().splitlines():
        fence = re.match(r"^\s*```(\S*)", line)
        if fence and language is None:
            language, lines = fence.group(1), []
        elif fence:
            blocks.append((language, lines))
            language = None
        elif language is not None:
            lines.append(line)
    return blocks


def command_lines(language: str, lines: list[str]) -> list[str]:
    """Shell lines of a block, continuations joined; in a console block only the `$ ` lines."""
    joined, pending = [], ""
    for line in lines:
        if language == "console":
            if not line.startswith("$ ") and not pending:
                continue
            line = line.removeprefix("$ ")
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        joined.append(pending + line)
        pending = ""
    return joined


def program_of(token: str) -> str | None:
    for name in PROGRAMS:
        if token == name or token.endswith("/" + name) and name.endswith(".py"):
            return name
    return None


def invocations(line: str) -> list[tuple[str, list[str]]]:
    """(program, its arguments) for each documented program the shell line runs."""
    tokens = shlex.split(line, comments=True)
    found, index = [], 0
    while index < len(tokens):
        token = tokens[index]
        name = program_of(tokens[index + 1]) if token == "-m" and index + 1 < len(tokens) else program_of(token)
        if name is None:
            index += 1
            continue
        index += 2 if token == "-m" else 1
        args = []
        while index < len(tokens) and tokens[index] not in SHELL_OPERATORS:
            args.append(tokens[index])
            index += 1
        found.append((name, args))
    return found


def documented_commands() -> list[tuple[str, str, list[str]]]:
    """(where, program, arguments) for every documented command."""
    commands = []
    for page in PAGES:
        for language, lines in code_blocks(page):
            if language in OUTPUT_BLOCKS:
                continue
            for line in command_lines(language, lines):
                for name, args in invocations(line):
                    commands.append((f"{page.relative_to(REPO)}: {line.strip()}", name, args))
    return commands


@functools.cache
def help_flags(name: str) -> frozenset[str]:
    """The flags a program's --help lists (run once per program)."""
    proc = subprocess.run(
        [sys.executable, *PROGRAMS[name], "--help"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, f"{name} --help failed: {proc.stderr}"
    return frozenset(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", proc.stdout))


def flags_of(args: list[str]) -> list[str]:
    return [arg.split("=", 1)[0] for arg in args if re.match(r"^--?[A-Za-z]", arg)]


COMMANDS = documented_commands()


def test_the_documentation_shows_the_commands_of_every_program():
    assert {name for _, name, _ in COMMANDS} == set(PROGRAMS)


@pytest.mark.parametrize(("where", "name", "args"), COMMANDS, ids=[where for where, _, _ in COMMANDS])
def test_every_documented_flag_is_in_the_help(where, name, args):
    unknown = [flag for flag in flags_of(args) if flag not in help_flags(name)]
    assert not unknown, f"{where}: {name} has no {', '.join(unknown)}"


def repository_files(line: str) -> list[str]:
    """The files of this repository a shell line names: a relative path with a folder, or pip's -r file."""
    tokens = shlex.split(line, comments=True)
    return [
        token
        for before, token in zip(["", *tokens], tokens, strict=False)
        if token.endswith(FILE_SUFFIXES)
        and not token.startswith(("~", "/", "$"))
        and ("/" in token or before == "-r" or program_of(token))
    ]


SHELL_LINES = [
    (f"{page.relative_to(REPO)}: {line.strip()}", line)
    for page in PAGES
    for language, lines in code_blocks(page)
    if language not in OUTPUT_BLOCKS
    for line in command_lines(language, lines)
]


@pytest.mark.parametrize(("where", "line"), SHELL_LINES, ids=[where for where, _ in SHELL_LINES])
def test_every_file_a_documented_command_names_exists(where, line):
    missing = [path for path in repository_files(line) if not (REPO / path).exists()]
    assert not missing, f"{where}: no such file {', '.join(missing)}"


def test_the_quick_start_files_exist():
    readme = (REPO / "README.md").read_text()
    for path in ("examples/sample.mp4", "requirements.txt", "requirements-dev.txt", "scripts/test_data.sha256"):
        assert path in readme and (REPO / path).exists(), path


def test_the_flag_tables_of_the_options_page_list_only_real_flags():
    """Each script's table in docs/options.md: every flag in its first column is in the script's --help."""
    section, wrong = None, []
    for line in (REPO / "docs" / "options.md").read_text().splitlines():
        heading = re.match(r"^## (\S+\.py)$", line)
        if line.startswith("## "):
            section = heading.group(1) if heading and heading.group(1) in PROGRAMS else None
        elif section and line.startswith("| `-"):
            first = line.split("|")[1]
            wrong += [(section, flag) for flag in re.findall(r"`(--?[\w-]+)", first) if flag not in help_flags(section)]
    assert section is None and not wrong, wrong


def test_the_files_of_the_quick_start_are_checked():
    line = ".venv/bin/pip install -r requirements.txt && .venv/bin/python obj_counting.py --videos examples/sample.mp4"
    assert repository_files(line) == ["requirements.txt", "obj_counting.py", "examples/sample.mp4"]


def test_a_flag_that_does_not_exist_is_caught():
    assert flags_of(invocations(".venv/bin/python obj_counting.py --max-frame 5 -v")[0][1]) == ["--max-frame", "-v"]
    assert "--max-frame" not in help_flags("obj_counting.py") and "--max-frames" in help_flags("obj_counting.py")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_and_picture_of_the_documentation_exists(page):
    targets = re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8"))
    local = [t.split("#")[0] for t in targets if "://" not in t and not t.startswith(("#", "mailto:"))]
    assert all((page.parent / target).exists() for target in local if target), page
    if page.name == "README.md":
        assert {"docs/images/dashboard.png", "docs/images/review.png"} <= set(local)
