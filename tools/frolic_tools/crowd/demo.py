"""`make demo` and what it is made of: a campaign created over the admin API, a crowd for
the game's whole window, its report and charts, and `reconcile` on the tables.

Also the pieces the CLI and the benches reuse: the live progress line, the demo's rate
for a crowd size and `overload_reason`, an `abort` that stops a load test in time.
"""

from __future__ import annotations

import json
import secrets
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, TextIO
from urllib.parse import quote

from frolic.models import iso_utc
from frolic_tools.chart import write_png
from frolic_tools.crowd.common import CrowdError, Progress, Schedule, error_code
from frolic_tools.crowd.report import CrowdReport
from frolic_tools.crowd.run import Crowd
from frolic_tools.local.client import LocalClient
from frolic_tools.local.demo import DemoGame

DEMO_BRANDS: Final = (("Aurora Coffee", 150), ("Bolt Bikes", 100), ("Cirrus Air", 50))
DEMO_MINUTES: Final = 3.0
DEMO_RUSH: Final = (3.0, 20.0)
#: Players per play/s at the peak: a player can play once per ~10.5 s (the game's rule
#: plus the result), so this leaves a sixth of them idle to take the next arrival.
PLAYERS_PER_PEAK_RATE: Final = 12
#: The demo's base rate: 15 plays/s through the 3x rush, about 1,100 plays in the 3
#: minutes. The local stack tops out near 10 plays/s (`make bench`), so the rush already
#: builds a backlog of a few seconds; a faster base rate risks plays without a result.
DEMO_RATE: Final = 5.0
#: The demo's game lets a player win up to this many coupons (the default is one).
DEMO_MAX_WINS_PER_USER: Final = 3


def create_campaign(
    admin: LocalClient,
    *,
    minutes: float = DEMO_MINUTES,
    brands: Sequence[tuple[str, int]] = DEMO_BRANDS,
    config: dict[str, Any] | None = None,
    name: str = "Frolic crowd demo",
) -> DemoGame:
    """A campaign with one game LIVE from now for `minutes`, made the way a marketer
    would: over the admin API, each brand's coupon pool uploaded as a CSV file.
    (`frolic_tools.local.create_demo_game` generates its codes instead; the demo exercises
    the upload a marketer really uses.)"""

    def call(method: str, path: str, body: Any) -> Any:
        reply = admin.request(method, path, body=body)
        if reply.status >= 400:
            raise CrowdError(f"{method} {path}: {reply.status} {error_code(reply)}")
        return reply.json()

    starts = datetime.now(UTC).replace(microsecond=0)
    ends = starts + timedelta(minutes=minutes)
    campaign = call(
        "POST",
        "/admin/campaigns",
        {"name": name, "startTime": iso_utc(starts), "endTime": iso_utc(ends + timedelta(hours=1))},
    )
    campaign_id = str(campaign["campaignId"])
    game_body: dict[str, Any] = {
        "name": f"{name}: {minutes:g}-minute spin",
        "startTime": iso_utc(starts),
        "endTime": iso_utc(ends),
    }
    if config:
        game_body["config"] = config
    game_id = str(call("POST", f"/admin/campaigns/{quote(campaign_id)}/games", game_body)["gameId"])
    batch = secrets.token_hex(4).upper()
    brand_ids: list[str] = []
    for brand_name, budget in brands:
        brand_id = str(call("POST", "/admin/brands", {"name": brand_name})["brandId"])
        path = f"/admin/games/{quote(game_id)}/budgets/{quote(brand_id)}"
        call("PUT", path, {"budget": budget})
        prefix = "".join(ch for ch in brand_name.upper() if ch.isalnum())[:6]
        csv = "code\n" + "".join(f"{prefix}-{batch}-{n:05d}\n" for n in range(1, budget + 1))
        reply = admin.request(
            "POST", f"{path}/coupons", raw=csv.encode(), content_type="text/csv; charset=utf-8"
        )
        if reply.status != 200:
            raise CrowdError(
                f"uploading {brand_name}'s coupons: {reply.status} {error_code(reply)}"
            )
        added = reply.json()
        if added.get("added") != budget:
            raise CrowdError(f"{brand_name}'s pool took {added.get('added')} of {budget} codes")
        brand_ids.append(brand_id)
    call("PATCH", f"/admin/games/{quote(game_id)}", {"status": "LIVE"})
    return DemoGame(
        campaign_id=campaign_id,
        game_id=game_id,
        brand_ids=tuple(brand_ids),
        budgets=tuple(budget for _, budget in brands),
        starts_at=starts,
        ends_at=ends,
    )


@dataclass(frozen=True, slots=True)
class DemoOutcome:
    report: CrowdReport
    reconciled: str
    clean: bool
    failure: str | None  # one line when the demo failed

    @property
    def exit_code(self) -> int:
        return 0 if self.failure is None else 1


def demo_rate(players: int, rush_multiplier: float) -> float:
    """The base rate a crowd of `players` sustains through the rush under the game's
    one-play-per-10-s rule."""
    return players / (PLAYERS_PER_PEAK_RATE * max(1.0, rush_multiplier))


def run_demo(
    *,
    port: int,
    players: int,
    out: Path,
    rate: float | None = None,
    minutes: float = DEMO_MINUTES,
    seed: int | None = None,
    show_progress: bool = True,
    stdout: TextIO,
    stderr: TextIO,
) -> DemoOutcome:
    """`make demo`: the local stack, a campaign over the admin API, a crowd for the
    game's whole window, then the report and `reconcile`. CrowdError or
    LocalStackError (one line) when it cannot start."""
    # Imported here: the local stack needs moto's server, a dev dependency.
    from frolic_tools.local.stack import LocalStack  # noqa: PLC0415
    from frolic_tools.reconcile import reconcile  # noqa: PLC0415

    multiplier, rush_seconds = DEMO_RUSH
    base_rate = rate if rate is not None else demo_rate(players, multiplier)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CrowdError(f"cannot create {out}: {error.strerror or error}") from None
    # The functions publish no metrics locally; Powertools would warn on every flush.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    with LocalStack("127.0.0.1", port) as stack:
        print(
            f"frolic demo: local stack at {stack.base_url} (moto at {stack.moto_url})", file=stdout
        )
        with Crowd(stack.base_url, players=players) as crowd:
            crowd.issue_admin_token()
            assert crowd.admin is not None
            campaign = create_campaign(
                crowd.admin, minutes=minutes, config={"maxWinsPerUser": DEMO_MAX_WINS_PER_USER}
            )
            budgets = ", ".join(
                f"{name} {budget}" for (name, budget) in DEMO_BRANDS[: len(campaign.budgets)]
            )
            print(
                f"frolic demo: game {campaign.game_id} LIVE {campaign.starts_at:%H:%M:%S}–"
                f"{campaign.ends_at:%H:%M:%S} UTC; budgets {budgets} (pools uploaded as CSV)",
                file=stdout,
            )
            game = crowd.game_info(campaign.game_id)
            assert game is not None
            duration = game.end - time.time() - 1.0  # the last arrival still inside
            print(
                f"frolic demo: {players} players ({crowd.ws_players} on WebSockets), "
                f"{base_rate:.1f} plays/s, {multiplier:g}x for the first {rush_seconds:g} s, "
                f"for {duration:.0f} s",
                file=stdout,
                flush=True,
            )
            schedule = Schedule(
                rate=base_rate,
                duration=duration,
                rush_multiplier=multiplier,
                rush_seconds=rush_seconds,
                seed=seed,
            )
            printer = ProgressPrinter(stderr) if show_progress else None
            try:
                report = crowd.run(campaign.game_id, schedule, game=game, progress=printer)
            finally:
                if printer is not None:
                    printer.finish()
        report.brand_names = {
            brand_id: name
            for brand_id, (name, _) in zip(campaign.brand_ids, DEMO_BRANDS, strict=False)
        }
        report.title = "Frolic demo"
        charts = write_charts(report, out / "pacing.png", out / "latency.png")
        (out / "crowd.json").write_text(json.dumps(report.to_json(), indent=2) + "\n")
        session = stack.boto3_session()
        dynamodb = session.client("dynamodb", endpoint_url=stack.moto_url)
        reconciled = reconcile(dynamodb, stack.settings, campaign.game_id)
        print(report.render(charts=[str(c) for c in charts]), file=stdout)
        print(reconciled.render(), file=stdout, flush=True)
    failure = None
    if report.no_result:
        failure = f"{report.no_result} play(s) got no result"
    elif not reconciled.clean:
        failure = f"reconcile found drift: {reconciled.problems[0]}"
    elif not report.ok:
        failure = report.problems()[0]
    return DemoOutcome(report, reconciled.render(), reconciled.clean, failure)


def write_charts(report: CrowdReport, pacing: Path, latency: Path) -> list[Path]:
    """The pacing and latency charts that have data; the paths written."""
    written: list[Path] = []
    for path, chart in ((pacing, report.pacing_chart()), (latency, report.latency_chart())):
        if chart is None:
            continue
        try:
            write_png(chart, path)
        except OSError as error:
            raise CrowdError(f"cannot write {path}: {error.strerror or error}") from None
        written.append(path)
    return written


class ProgressPrinter:
    """The live progress line on a terminal, rewritten in place."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._shown = False

    def __call__(self, progress: Progress) -> None:
        self._stream.write("\r\033[K" + progress.line())
        self._stream.flush()
        self._shown = True

    def finish(self) -> None:
        if self._shown:
            self._stream.write("\r\033[K")
            self._stream.flush()


def overload_reason(progress: Progress, *, pending_limit: float) -> str | None:
    """An `abort` for load tests: stop sending once a play is lost or one has waited
    longer than `pending_limit` for its result. Past that point more arrivals only grow
    the backlog, and draining it would hold up whatever is measured next."""
    if progress.no_result:
        return f"{progress.no_result} play(s) without a result after {progress.elapsed:.0f} s"
    if progress.oldest_pending > pending_limit:
        return (
            f"a play waited over {pending_limit:g} s for its result after {progress.elapsed:.0f} s"
        )
    return None
