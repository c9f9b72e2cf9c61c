"""The root of the ``skyprophet`` command: every group registered here, and ``main``, which turns a
user error into one line and a non-zero exit."""

from __future__ import annotations

import sys
from typing import Annotated, NoReturn

import typer
from typer._click.exceptions import NoArgsIsHelpError, UsageError  # typer 0.2x carries its own click; this is not click's

from skyprophet.cli import bench, data, features, live, model
from skyprophet.cli._common import HELP
from skyprophet.cli.monitor import monitor
from skyprophet.cli.serve import serve
from skyprophet.adapters.logs import LEVELS, set_level
from skyprophet.core.errors import InvalidInput, SkyProphetError, first_line

app = typer.Typer(
    name="skyprophet",
    help="SkyProphet: flight-delay prediction on a Feast feature store (data, features, models, serving, live operation).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings=HELP,
    rich_markup_mode=None,
)
app.add_typer(data.app, name="data")
app.add_typer(features.app, name="features")
app.add_typer(model.app, name="model")
app.command()(monitor)
app.command()(serve)
app.add_typer(live.app, name="live")
app.add_typer(bench.app, name="bench")


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"skyprophet {version('skyprophet')}")
        raise typer.Exit()


@app.callback()
def root(
    show_version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="print the version and exit")] = False,
    log_level: Annotated[str | None, typer.Option(metavar="|".join(LEVELS), help="how much to log (default: info)")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="log everything (--log-level debug)")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="warnings and errors only (--log-level warning)")] = False,
) -> None:
    """SkyProphet: flight-delay prediction on a Feast feature store (data, features, models, serving, live operation)."""
    if log_level is not None and log_level.lower() not in LEVELS:
        raise InvalidInput(f"--log-level: one of {', '.join(LEVELS)}, not {log_level!r} (e.g. --log-level warning)")
    if sum((log_level is not None, verbose, quiet)) > 1:
        raise InvalidInput("give one of --log-level, -v/--verbose and -q/--quiet")
    set_level("debug" if verbose else "warning" if quiet else (log_level or "info").lower())


def _fail(command: str, message: str, code: int, kind: str = "error") -> NoReturn:
    typer.echo(f"skyprophet{' ' + command if command else ''}: {kind}: {message}", err=True)
    raise SystemExit(code)


def _one_line(exc: BaseException) -> str:
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        return "; ".join(f"--{'-'.join(str(p) for p in e['loc']).replace('_', '-')}: {e['msg']}" for e in exc.errors())
    return first_line(exc)


def _command_of(args: list[str]) -> str:
    """The group and command named in ``args`` ("model score"), past the root's options."""
    words: list[str] = []
    rest = iter(args)
    for a in rest:
        if a == "--log-level":
            next(rest, None)  # its value
        elif a.startswith("-"):
            if words:
                break
        elif len(words) < 2:
            words.append(a)
        else:
            break
    return " ".join(words)


def main(argv: list[str] | None = None) -> None:
    """The console script: runs a command; user errors end in one line on stderr and a non-zero exit."""
    args = sys.argv[1:] if argv is None else argv
    command = _command_of(args)
    try:
        code = app(args=args, prog_name="skyprophet", standalone_mode=False)
    except NoArgsIsHelpError as exc:  # a group without a command: its help, and nothing failed
        typer.echo(exc.format_message())
        return
    except UsageError as exc:
        _fail(exc.ctx.command_path.removeprefix("skyprophet").strip() if exc.ctx else command, exc.format_message(), 2)
    except typer.Abort:
        _fail(command, "aborted", 130)
    except SkyProphetError as exc:
        _fail(command, _one_line(exc), 1, exc.kind)
    except Exception as exc:
        from pydantic import ValidationError  # settings or a flight's fields, as the user gave them

        if isinstance(exc, ValidationError):
            _fail(command, _one_line(exc), 1)
        raise
    if isinstance(code, int) and code:
        raise SystemExit(code)
