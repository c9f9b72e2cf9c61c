"""The `skyprophet` command line: every subcommand is there, bad input is one line and a non-zero exit."""

from __future__ import annotations

import pytest

from skyprophet.cli import main

PREDICT = ["predict", "--carrier", "UA", "--flight-number", "1545", "--origin", "EWR", "--dest", "IAH",
           "--scheduled-departure", "2013-12-30T08:00-05:00"]


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out = capsys.readouterr()
    code = exc.value.code
    return (code if isinstance(code, int) else 1), out.out, out.err


def test_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--help"])
    top = capsys.readouterr().out
    for name in ("ingest", "features", "train", "evaluate", "promote", "serve", "predict", "bench", "score"):
        assert f" {name} " in top, name
    main(["features", "--help"])
    features = capsys.readouterr().out
    for name in ("build", "apply", "materialize"):
        assert f" {name} " in features, name
    main(["bench", "--help"])
    bench = capsys.readouterr().out
    for name in ("features", "train", "serving"):
        assert f" {name} " in bench, name


def _replace(args: list[str], option: str, value: str) -> list[str]:
    i = args.index(option)
    return [*args[: i + 1], value, *args[i + 2 :]]


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (_replace(PREDICT, "--carrier", "united"), "--carrier"),
        (_replace(PREDICT, "--flight-number", "0"), "--flight-number"),
        (_replace(PREDICT, "--flight-number", "twelve"), "--flight-number"),
        (_replace(PREDICT, "--scheduled-departure", "2013-12-30T08:00"), "--scheduled-departure"),
        (_replace(PREDICT, "--scheduled-departure", "next tuesday"), "--scheduled-departure"),
        (_replace(PREDICT, "--origin", "Newark"), "--origin"),
        ([*PREDICT, "--source", "cache"], "--source"),
        (PREDICT[:3], "--flight-number"),
        (["predcit"], "predict"),
        (["features", "build", "--until", "2013-05-01"], "--until"),
        (["features", "materialize", "--end", "yesterday"], "--end"),
        (["score", "--date", "30/12/2013"], "--date"),
        (["train", "--leads", "1440,ninety"], "--leads"),
        (["train", "--leads", "1440,60"], "--leads"),  # without the headline lead (120)
    ],
    ids=["carrier", "flight-number-zero", "flight-number-text", "no-offset", "unparseable-date", "origin",
         "unknown-source", "missing-option", "unknown-command", "until-without-offset", "materialize-end", "score-date",
         "leads-text", "leads-without-headline"],
)
def test_user_error_is_one_line_naming_the_problem(args: list[str], names: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(args, capsys)
    assert code != 0
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("skyprophet") and ": error: " in lines[0], err
    assert names in lines[0], err
    assert "Traceback" not in err + out
