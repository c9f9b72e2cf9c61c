"""The `make X` and `skyprophet ...` commands a page shows, checked against the Makefile and the CLI.

A command is taken from a shell code block (one per line, continuation lines joined, comments and
anything after a pipe or `&&` left out) or from an inline code span that starts with `make ` or
`skyprophet `. Placeholders (`<command>`, `F`, `GLOB`, `[--until T]`'s brackets) are accepted
where a value or an optional part stands.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FENCE = re.compile(r"^```(\w*)\s*$")
SHELL = {"bash", "sh", "shell", "console", ""}
INLINE = re.compile(r"`((?:make|skyprophet|\.venv/bin/skyprophet) [^`]+)`")
PLACEHOLDER = re.compile(r"^(<[^>]+>|[A-Z][A-Z0-9_]*|\.\.\.|…)$")
ROOT_OPTIONS_WITH_VALUE = {"--log-level"}


@dataclass(frozen=True)
class Shown:
    page: str
    line: int
    text: str


def shown_commands(page: Path, root: Path) -> Iterator[Shown]:
    """Every make or skyprophet command shown on ``page``."""
    lines = page.read_text().splitlines()
    name = str(page.relative_to(root))
    in_block, shell, pending, start = False, False, "", 0
    for i, line in enumerate(lines, 1):
        m = FENCE.match(line.strip())
        if m:
            in_block, shell = (not in_block, m.group(1) in SHELL) if not in_block else (False, False)
            continue
        if in_block and shell:
            if not pending:
                start = i
            pending += line.rstrip().removesuffix("\\") + " "
            if line.rstrip().endswith("\\"):
                continue
            text = _first_command(pending)
            pending = ""
            if text:
                yield Shown(name, start, text)
        elif not in_block:
            for span in INLINE.findall(line):
                if not any(w.endswith(":") for w in span.split()[:4]):  # a message quoted, not a command
                    yield Shown(name, i, span)


def _first_command(text: str) -> str | None:
    text = re.split(r"\s#|^#", text, maxsplit=1)[0]
    text = re.split(r"\s(?:\|\||\||&&|;|\d?>)", " " + text, maxsplit=1)[0].strip()
    words = text.split()
    while words and re.match(r"^[A-Z_]+=", words[0]):  # VAR=value before the command
        words.pop(0)
    if not words:
        return None
    if words[0] == "make" or words[0].endswith("skyprophet") or words[:3] == ["python", "-m", "skyprophet"]:
        return " ".join(words)
    return None


def make_targets(makefile: Path) -> set[str]:
    return set(re.findall(r"^([a-z][a-z0-9-]*):(?!=)", makefile.read_text(), re.M))


def check(shown: Shown, targets: set[str], cli: Any) -> str | None:
    """What is wrong with the shown command (None: nothing)."""
    try:
        words = shlex.split(shown.text.replace("[", " ").replace("]", " "))
    except ValueError as exc:
        return f"{shown.page}:{shown.line}: `{shown.text}`: {exc}"
    if words[0] == "make":
        bad = [w for w in words[1:] if "=" not in w and not w.startswith("-") and not PLACEHOLDER.match(w)
               and not fnmatch.filter(targets, w)]
        return f"{shown.page}:{shown.line}: `{shown.text}`: no make target {', '.join(bad)}" if bad else None
    if words[:3] == ["python", "-m", "skyprophet"]:
        words = words[2:]
    problem = _check_cli(words[1:], cli)
    return f"{shown.page}:{shown.line}: `{shown.text}`: {problem}" if problem else None


def _check_cli(args: list[str], root: Any) -> str | None:
    cmd, ctx_path = root, ["skyprophet"]
    i = 0
    while i < len(args):  # the root's options, then groups and the command
        a = args[i]
        if a.startswith("-"):
            if cmd is root:
                i += 2 if a in ROOT_OPTIONS_WITH_VALUE else 1
                continue
            break
        if PLACEHOLDER.match(a):
            return None  # `skyprophet <command> --help`: any command
        sub = getattr(cmd, "commands", {}).get(a)
        if sub is None:
            if getattr(cmd, "commands", None):
                return f"{' '.join(ctx_path)} has no command {a!r}"
            break  # an argument of the command
        cmd, ctx_path = sub, [*ctx_path, a]
        i += 1
    options = {o: p for p in cmd.params for o in (*p.opts, *p.secondary_opts)}
    options.update({"-h": None, "--help": None})
    while i < len(args):
        a = args[i]
        i += 1
        if not a.startswith("-") or a in ("-", "--"):
            continue
        name = a.split("=", 1)[0]
        if name not in options:
            if cmd.context_settings.get("ignore_unknown_options"):
                return None  # the rest passes through to another tool
            return f"{' '.join(ctx_path)} has no option {name}"
        p = options[name]
        if p is not None and not getattr(p, "is_flag", False) and "=" not in a:
            i += 1  # its value
    return None
