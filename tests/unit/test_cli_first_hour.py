"""The command line explains itself to a new user (issue 15 item 8).

Every option a first hour touches has help text, the top-level description is
plain text, ``compact --table`` names its choices, a missing dataset folder is
one line and a non-zero exit, and ``replay --exchange`` says so when it
overrides the exchange the file names.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support import CAPTURES, needs_captures

from collector.cli import main


def help_of(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as done:
        main([*argv, "--help"])
    assert done.value.code == 0
    return " ".join(capsys.readouterr().out.split())  # argparse wraps to the terminal


def option_help(text: str, option: str) -> str:
    """The words after ``option`` (and its metavar) in the options list, up to the next."""
    rest = text.split(" options: ", 1)[1].split(f" {option} ", 1)[1]
    return rest.split(" --", 1)[0]


def test_top_level_description_is_plain_text(capsys: pytest.CaptureFixture[str]) -> None:
    text = help_of(capsys)
    assert "``" not in text
    assert "collector: record exact, normalized order books" in text


@pytest.mark.parametrize(
    ("command", "option", "words"),
    [
        ("run", "--config", "TOML config"),
        ("demo", "--config", "the one the package ships"),
        ("demo", "--seconds", "how long the daemon records"),
        ("replay", "--exchange", "overrides the file's own header"),
        ("compact", "--table", "book, trades, bbo, quality or book_snapshots_<N>x<I>ms"),
    ],
)
def test_options_have_help(
    capsys: pytest.CaptureFixture[str], command: str, option: str, words: str
) -> None:
    assert words in option_help(help_of(capsys, command), option)


@pytest.mark.parametrize(
    "argv",
    [["compact", "{missing}", "--date", "2024-08-08"], ["quality", "{missing}"]],
)
def test_a_missing_dataset_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    missing = str(tmp_path / "no-such-dataset")
    assert main([a.format(missing=missing) for a in argv]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and missing in err


@needs_captures
def test_replay_warns_when_exchange_contradicts_the_header(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recording = CAPTURES / "binance-usdm" / "BINANCE_FUTURES.jsonl.gz"
    main(["replay", str(recording), "--out", str(tmp_path / "a"), "--exchange", "binance-coinm"])
    err = capsys.readouterr().err
    assert f"warning: {recording} names its exchange 'binance-usdm'" in err
    assert main(["replay", str(recording), "--out", str(tmp_path / "b"), "--json"]) == 0
    assert (
        main(
            [
                "replay",
                str(recording),
                "--out",
                str(tmp_path / "c"),
                "--exchange",
                "binance-usdm",
                "--json",
            ]
        )
        == 0
    )
    assert "warning" not in capsys.readouterr().err  # agreeing or absent: nothing to say
