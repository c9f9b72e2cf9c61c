"""The `skyprophet` command line: every subcommand is there, bad input is one line and a non-zero exit."""

from __future__ import annotations

import pytest

from skyprophet.cli import main

PREDICT = ["model", "predict", "--carrier", "UA", "--flight-number", "1545", "--origin", "EWR", "--dest", "IAH",
           "--scheduled-departure", "2013-12-30T08:00-05:00"]


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out = capsys.readouterr()
    code = exc.value.code
    return (code if isinstance(code, int) else 1), out.out, out.err


GROUPS = {
    "data": ("ingest",),
    "features": ("build", "apply", "materialize", "training-set", "demo"),
    "model": ("train", "evaluate", "promote", "score", "predict"),
    "live": ("run", "replay", "stream", "recover"),
    "bench": ("features", "train", "serving"),
}


def test_help_lists_every_group_and_command(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--help"])
    top = capsys.readouterr().out
    for name in (*GROUPS, "monitor", "serve"):
        assert f" {name} " in top, name
    for group, commands in GROUPS.items():
        main([group, "-h"])
        shown = capsys.readouterr().out
        for name in commands:
            assert f" {name} " in shown, f"{group} {name}"


def test_version_and_a_group_without_a_command(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    main(["--version"])
    assert capsys.readouterr().out.strip() == f"skyprophet {version('skyprophet')}"
    for args in ([], ["live"], ["features"], ["bench"]):  # a group without a command: its help, exit 0, no error line
        main(args)
        out = capsys.readouterr()
        assert out.out.startswith("Usage: skyprophet") and out.err == "", args
    main(["live", "-h"])
    assert " stream " in capsys.readouterr().out


def test_on_off_flags_are_shown_as_flags(capsys: pytest.CaptureFixture[str]) -> None:
    main(["model", "train", "-h"])
    shown = capsys.readouterr().out
    assert "--no-register " in shown and "<bool>" not in shown
    main(["live", "run", "-h"])
    assert "<bool>" not in capsys.readouterr().out


def test_the_log_level(capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    try:
        for args, level in ((["-q"], logging.WARNING), (["-v"], logging.DEBUG), (["--log-level", "error"], logging.ERROR),
                            ([], logging.INFO)):
            main([*args, "data", "contract"])
            assert logging.getLogger().level == level, args
            capsys.readouterr()
    finally:
        main(["data", "contract"])  # back to the default
        capsys.readouterr()


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
        ([*PREDICT, "--store", "cache"], "--store"),
        (PREDICT[:4], "--flight-number"),
        (["model", "predcit"], "predict"),
        (["features", "build", "--until", "2013-05-01"], "--until"),
        (["features", "materialize", "--end", "yesterday"], "--end"),
        (["model", "score", "--date", "30/12/2013"], "--date"),
        (["model", "train", "--leads", "1440,ninety"], "--leads"),
        (["model", "train", "--leads", "1440,60"], "--leads"),  # without the headline lead (120)
        (["live", "replay", "--from", "2013-12-01T00:00+00:00", "--speed", "fast"], "--speed"),
        (["model", "score", "--date", "2013-02-30"], "2013-02-30 is not a day of the calendar"),
        (["monitor", "--window", "2013-13"], "--window: '2013-13' is not a YYYY-MM month or a YYYY-MM-DD day"),
        (_replace(PREDICT, "--carrier", "united"), "--carrier: expected an IATA airline code, e.g. UA (got 'united')"),
        (["--log-level", "loud", "data", "contract"], "skyprophet data contract: error: --log-level: one of debug"),
        (["-q", "-v", "data", "contract"], "one of --log-level"),
        (["model", "retrain", "--as-of", "2013-12"], "--as-of"),
        (["model", "retrain", "--as-of", "2013-12-01", "--reason", "hunch"], "--reason"),
    ],
    ids=["carrier", "flight-number-zero", "flight-number-text", "no-offset", "unparseable-date", "origin",
         "unknown-source", "missing-option", "unknown-command", "until-without-offset", "materialize-end", "score-date",
         "leads-text", "leads-without-headline", "replay-speed", "no-such-day", "month-13", "carrier-expected",
         "log-level", "two-levels", "retrain-day", "retrain-reason"],
)
def test_user_error_is_one_line_naming_the_problem(args: list[str], names: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(args, capsys)
    assert code != 0
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("skyprophet") and ": error: " in lines[0], err
    assert names in lines[0], err
    assert "Traceback" not in err + out
