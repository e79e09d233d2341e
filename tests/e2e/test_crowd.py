"""`frolic crowd` against the local stack: a short crowd over sockets and REST, with
resent plays, must leave every play answered exactly once and consistently, none lost,
and tables that reconcile. The CLI's mistakes are one line and exit 2; `frolic demo`
runs end to end. No assertion here depends on timing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from frolic_tools.cli import main
from frolic_tools.crowd import Crowd, CrowdError, Schedule, create_campaign
from frolic_tools.crowd.report import FINAL_STATUSES, CrowdReport, percentile
from frolic_tools.local import LocalClient, LocalStack
from frolic_tools.reconcile import reconcile
from tests.e2e.waiting import wait_for

DEMO_TIMEOUT_SECONDS = 240


@pytest.fixture(scope="module")
def crowd_game(admin: LocalClient) -> str:
    """A fresh 60-s game under the default rule (one play per player per 10 s), its
    pools uploaded as CSV, so nothing another test did is counted here."""
    return create_campaign(admin, minutes=1, brands=(("Crowd A", 10), ("Crowd B", 5))).game_id


@pytest.fixture(scope="module")
def short_crowd(stack: LocalStack, crowd_game: str) -> CrowdReport:
    sockets_before = len(stack.connection_ids())
    with Crowd(stack.base_url, players=20, ws_share=0.5) as crowd:
        crowd.issue_admin_token()
        game = crowd.game_info(crowd_game)
        report = crowd.run(
            crowd_game,
            Schedule(rate=3.0, duration=8.0, duplicate_share=0.3, seed=7),
            game=game,
        )
    # Every socket the crowd opened is closed again, as the gateway sees it.
    wait_for(
        lambda: len(stack.connection_ids()) <= sockets_before,
        timeout=15,
        what="the crowd's sockets to close",
    )
    return report


def test_every_play_is_accounted_for(short_crowd: CrowdReport) -> None:
    report = short_crowd
    assert report.arrivals == len(report.plays) + report.skipped_no_idle
    assert report.send_failed == 0
    # The crowd keeps to the game's 10-s rule, so the intake refuses nothing.
    assert not report.refused
    assert report.no_result == 0
    assert len(report.answered) == len(report.sent) == len(report.plays) > 0
    assert all(play.status in FINAL_STATUSES for play in report.answered)


def test_every_play_is_answered_exactly_once(short_crowd: CrowdReport) -> None:
    assert short_crowd.answered_twice == 0
    pushed = [p for p in short_crowd.plays if p.channel == "ws"]
    polled = [p for p in short_crowd.plays if p.channel == "rest"]
    assert pushed and polled  # both channels were exercised
    assert all(p.results == 1 and p.via == "push" for p in pushed)
    assert all(p.results == 0 and p.via == "poll" for p in polled)


def test_resent_plays_are_answered_consistently(short_crowd: CrowdReport) -> None:
    resent = short_crowd.duplicates
    assert resent, "the seed picks some plays to resend"
    assert {p.verified for p in resent} == {"consistent"}, short_crowd.inconsistencies
    assert short_crowd.duplicates_consistent == len(resent)
    assert short_crowd.ok, short_crowd.problems()


def test_the_tables_reconcile_with_what_the_crowd_saw(
    stack: LocalStack, crowd_game: str, short_crowd: CrowdReport
) -> None:
    dynamodb = stack.boto3_session().client("dynamodb", endpoint_url=stack.moto_url)
    tables = reconcile(dynamodb, stack.settings, crowd_game)
    assert tables.clean, tables.render()
    assert tables.plays == len(short_crowd.answered)
    assert dict(tables.statuses) == dict(short_crowd.statuses)


def test_the_report_holds_every_figure(short_crowd: CrowdReport) -> None:
    figures = short_crowd.to_json()
    assert figures["no_result"] == 0
    assert figures["answered"] == figures["sent"]
    assert figures["latency_s"]["p50"] is not None
    assert figures["issued"] is not None and figures["budget"] == 15
    dumped = json.dumps(figures) + short_crowd.render()
    codes = [p.code for p in short_crowd.plays if p.code]
    assert codes and not any(code in dumped for code in codes)  # codes are never reported
    assert short_crowd.pacing_chart() is not None
    assert short_crowd.latency_chart() is not None
    assert "verdict           ok" in short_crowd.render()


def test_percentiles_are_latencies_some_play_had() -> None:
    assert percentile([], 50) is None
    assert percentile([0.3], 99) == 0.3
    values = [float(n) for n in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 99), percentile(values, 100)) == (
        50.0,
        99.0,
        100.0,
    )


def test_a_crowd_refuses_an_impossible_population(stack: LocalStack) -> None:
    with pytest.raises(CrowdError):
        Crowd(stack.base_url, players=3, tokens=["only-one"])
    with pytest.raises(CrowdError):
        Crowd("ftp://example.invalid", players=1)


# -- the command line ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_game(admin: LocalClient) -> str:
    return create_campaign(admin, minutes=3, brands=(("Cli A", 5),), name="CLI crowd").game_id


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def crowd_argv(api: str, game: str, *extra: str) -> list[str]:
    return ["crowd", "--api", api, "--game", game, "--rate", "1", "--duration", "2", *extra]


@pytest.mark.parametrize(
    "case",
    [
        ("not a url", ("--players", "2"), "--api must be an http"),
        ("http://127.0.0.1:1", ("--players", "2"), "cannot reach http://127.0.0.1:1"),
        ("{base}", (), "give --players N"),
        ("{base}", ("--players", "2", "--rush", "3"), "MULTIPLIER:SECONDS"),
        ("{base}", ("--players", "2", "--ws-share", "2"), "between 0 and 1"),
    ],
    ids=["not-a-url", "unreachable", "no-players", "bad-rush", "bad-share"],
)
def test_crowd_usage_errors_are_one_line_and_exit_2(
    stack: LocalStack,
    cli_game: str,
    capsys: pytest.CaptureFixture[str],
    case: tuple[str, tuple[str, ...], str],
) -> None:
    api, extra, says = case
    code, out, err = run_cli(crowd_argv(api.format(base=stack.base_url), cli_game, *extra), capsys)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and says in err, err


def test_crowd_on_a_missing_game_is_one_line_and_exit_2(
    stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(crowd_argv(stack.base_url, "no-such-game", "--players", "2"), capsys)
    assert code == 2
    assert out == ""
    assert err == f"frolic crowd: there is no game 'no-such-game' at {stack.base_url}\n"


def test_crowd_reads_player_tokens_from_a_file(
    stack: LocalStack, cli_game: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--tokens is the deployed stack's way in; locally the dev issuer can fill the file.
    Without --admin-token there is no game check and no pacing figures, only plays."""
    anonymous = LocalClient(stack.base_url)
    tokens = tmp_path / "tokens.txt"
    tokens.write_text(
        "# one player a line\n"
        + "".join(anonymous.issue_token(f"token-player-{n}") + "\n" for n in range(3))
    )
    code, out, err = run_cli(
        [
            *("crowd", "--api", stack.base_url, "--game", cli_game, "--tokens", str(tokens)),
            *("--rate", "4", "--duration", "2", "--seed", "1", "--json"),
        ],
        capsys,
    )
    figures = json.loads(out)
    assert code == 0, err
    assert figures["players"] == 3
    assert figures["sent"] > 0
    assert figures["no_result"] == 0 and figures["answered"] == figures["sent"]
    assert figures["budget"] is None


def test_crowd_with_too_few_tokens_is_one_line_and_exit_2(
    stack: LocalStack, cli_game: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("a.b.c\n")
    code, _, err = run_cli(
        crowd_argv(stack.base_url, cli_game, "--tokens", str(tokens), "--players", "2"), capsys
    )
    assert (code, err) == (2, "frolic crowd: 2 players need 2 tokens, got 1\n")


def test_frolic_demo_runs_end_to_end(tmp_path: Path) -> None:
    """The whole `make demo` on a short game, in a process of its own (one local stack
    per process): every play answered, reconcile clean, charts written, exit 0."""
    out = tmp_path / "demo"
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "frolic_tools.cli",
            "demo",
            "--port",
            "0",
            "--minutes",
            "0.25",
            "--rate",
            "2",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT_SECONDS,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "clean: no drift" in finished.stdout
    assert "no result         0" in finished.stdout
    assert finished.stdout.rstrip().endswith("reconcile clean")
    assert (out / "pacing.png").read_bytes().startswith(b"\x89PNG")
    assert (out / "latency.png").read_bytes().startswith(b"\x89PNG")
    assert json.loads((out / "crowd.json").read_text())["no_result"] == 0
