"""What a crowd run saw, and how it is told: counts, latency percentiles, JSON, charts.

Kept apart from `frolic_tools.crowd` (which drives sockets and threads) so the figures can be
computed, tested and rendered from plain records. Every play the crowd sends ends up in
exactly one bucket here: answered (with its final status), refused at intake, failed to
send, or no result by its deadline. Arrivals that found no idle player are counted too.
Nothing is dropped on the way to the report, because a load test that quietly loses
plays would hide exactly the failure it exists to find.

Coupon codes are kept in the records only to compare a play's answers with each other;
they never appear in the report, its JSON or its charts.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from frolic.dal.tables import game_minute
from frolic_tools.chart import Series, line_chart

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: A play is decided when its status is one of these (`pending` is not).
FINAL_STATUSES: Final = frozenset({"won", "lost", "rejected", "expired"})
PERCENTILES: Final = (50, 95, 99)
_CONSISTENT: Final = "consistent"


@dataclass(slots=True)
class PlayRecord:
    """One play as the crowd saw it. Times are `time.monotonic()` seconds."""

    play_id: str
    player: int
    channel: str  # "ws" or "rest"; a play moves to "rest" if its socket died before sending
    scheduled: float
    sent: float | None = None
    acked: float | None = None
    ack_status: str | None = None
    #: Answers to sends of this play (a `queued` ack or an error), original first.
    answers: int = 0
    refused: str | None = None  # the intake's error code for the original send
    send_error: str | None = None  # transport failure: the play never reached the API
    result_at: float | None = None
    status: str | None = None
    brand: str | None = None
    code: str | None = None  # only to compare answers; never reported
    via: str | None = None  # "push" (WebSocket) or "poll" (GET /plays/{id})
    #: Result messages pushed for this play; exactly one is the contract.
    results: int = 0
    timed_out: bool = False
    late: bool = False  # a result came after the play had been counted as without one
    done: bool = False
    duplicate: bool = False  # chosen to be resent
    resend_due: float | None = None
    resent: float | None = None
    resend_answer: str | None = None
    verified: str | None = None  # "consistent", or why the answers disagree

    @property
    def latency(self) -> float | None:
        if self.sent is None or self.result_at is None or self.timed_out:
            return None
        return self.result_at - self.sent


@dataclass(frozen=True, slots=True)
class IssuedSample:
    """The admin report read during the run: coupons issued by `seconds` into the game,
    and what the release schedule allowed by then."""

    seconds: float
    issued: int
    scheduled: float
    #: The report's issued curve in the same answer: issued by each minute's end.
    curve: tuple[int, ...] = ()


def curve_problems(samples: Sequence[IssuedSample]) -> list[str]:
    """Where the report's curve and its counters disagreed, from the samples read during
    a run: in each answer the point for the minute under way must be the counters, and
    a minute that has ended must keep, in every later answer, what it said at its end.
    Together: the curve equals the counters at every minute's end."""
    found: list[str] = []
    final = next((s.curve for s in reversed(samples) if s.curve), ())
    for sample in samples:
        if not sample.curve:
            continue
        last = len(sample.curve) - 1
        now = min(max(game_minute(0.0, sample.seconds), 0), last)
        if sample.curve[now] != sample.issued:
            found.append(
                f"{sample.seconds:.0f} s into the game the report's curve said "
                f"{sample.curve[now]} issued and its counters {sample.issued}"
            )
        for minute in range(min(now, len(final))):
            if sample.curve[minute] != final[minute]:
                found.append(
                    f"minute {minute} of the report's curve said {sample.curve[minute]} "
                    f"{sample.seconds:.0f} s into the game and {final[minute]} at the end"
                )
    return found


def percentile(ordered: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile of an ascending sequence (None when it is empty): always
    a latency some play really had, never an interpolation between two."""
    if not ordered:
        return None
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass
class CrowdReport:
    api: str
    game_id: str
    players: int
    ws_players: int
    rate: float
    duration: float
    rush_multiplier: float
    rush_seconds: float
    seed: int | None
    plays: list[PlayRecord]
    arrivals: int
    skipped_no_idle: int
    #: Seconds from the first arrival to the last play settled.
    elapsed: float
    #: Seconds the crowd actually sent plays for (less than `duration` if stopped early).
    sending_seconds: float
    stopped_early: str | None = None
    sockets_lost: int = 0
    unexpected_messages: int = 0
    samples: list[IssuedSample] = field(default_factory=list)
    schedule: list[tuple[float, float]] = field(default_factory=list)  # (seconds, scheduled)
    #: The admin report's curve at the end: per minute of the game, plays counted, and
    #: coupons issued and scheduled by the minute's end.
    report_curve: list[dict[str, Any]] = field(default_factory=list)
    budget_total: int | None = None
    issued_final: int | None = None
    #: Brand id → name, when the caller knows them (the demo does); ids otherwise.
    brand_names: dict[str, str] = field(default_factory=dict)
    title: str = ""

    # -- counts ---------------------------------------------------------------------------

    @property
    def sent(self) -> list[PlayRecord]:
        return [p for p in self.plays if p.sent is not None and p.send_error is None]

    @property
    def answered(self) -> list[PlayRecord]:
        return [p for p in self.plays if p.status is not None and not p.timed_out]

    @property
    def statuses(self) -> Counter[str]:
        return Counter(p.status for p in self.answered if p.status is not None)

    @property
    def refused(self) -> Counter[str]:
        return Counter(p.refused for p in self.plays if p.refused is not None)

    @property
    def send_failed(self) -> int:
        return sum(1 for p in self.plays if p.send_error is not None)

    @property
    def no_result(self) -> int:
        """Plays the API accepted that got no final result by their deadline: lost."""
        return sum(1 for p in self.plays if p.timed_out)

    @property
    def late_results(self) -> int:
        return sum(1 for p in self.plays if p.late)

    @property
    def answered_twice(self) -> int:
        """Plays with more than one result pushed: invariant 3 says one result per play."""
        return sum(1 for p in self.plays if p.results > 1)

    @property
    def duplicates(self) -> list[PlayRecord]:
        return [p for p in self.plays if p.resent is not None]

    @property
    def resends_not_sent(self) -> Counter[str]:
        """Plays picked to be resent that were not, by reason (a refused original, a
        socket that closed first, the deadline)."""
        return Counter(
            p.resend_answer or "not resent" for p in self.plays if p.duplicate and p.resent is None
        )

    @property
    def duplicates_consistent(self) -> int:
        return sum(1 for p in self.duplicates if p.verified == _CONSISTENT)

    @property
    def inconsistencies(self) -> list[str]:
        return [
            f"{p.play_id}: {p.verified or 'not verified'}"
            for p in self.duplicates
            if p.verified != _CONSISTENT
        ]

    @property
    def coupons_by_brand(self) -> Counter[str]:
        return Counter(p.brand for p in self.answered if p.brand is not None)

    # -- latency --------------------------------------------------------------------------

    def latencies(self, channel: str | None = None) -> list[float]:
        return sorted(
            latency
            for p in self.answered
            if (channel is None or p.channel == channel) and (latency := p.latency) is not None
        )

    def latency_summary(self, channel: str | None = None) -> dict[str, float | None]:
        values = self.latencies(channel)
        summary: dict[str, float | None] = {
            f"p{pct}": percentile(values, pct) for pct in PERCENTILES
        }
        summary["max"] = values[-1] if values else None
        summary["mean"] = math.fsum(values) / len(values) if values else None
        return summary

    @property
    def sent_per_second(self) -> float:
        return len(self.sent) / self.sending_seconds if self.sending_seconds > 0 else 0.0

    @property
    def answered_per_second(self) -> float:
        """Results per second over the whole run, from the first play to the last answer."""
        return len(self.answered) / self.elapsed if self.elapsed > 0 else 0.0

    # -- verdict --------------------------------------------------------------------------

    def problems(self) -> list[str]:
        """Why this run breaks Frolic's promises; empty when it does not."""
        found: list[str] = []
        if self.no_result:
            found.append(f"{self.no_result} play(s) got no result within their deadline")
        if self.answered_twice:
            found.append(f"{self.answered_twice} play(s) were answered more than once")
        bad = len(self.duplicates) - self.duplicates_consistent
        if bad:
            found.append(f"{bad} resent play(s) were answered inconsistently")
        if self.send_failed:
            found.append(f"{self.send_failed} play(s) could not be sent")
        found += curve_problems(self.samples)[:3]
        return found

    @property
    def ok(self) -> bool:
        return not self.problems()

    # -- output ---------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        def rounded(summary: dict[str, float | None]) -> dict[str, float | None]:
            return {k: None if v is None else round(v, 4) for k, v in summary.items()}

        return {
            "api": self.api,
            "game_id": self.game_id,
            "players": self.players,
            "ws_players": self.ws_players,
            "rest_players": self.players - self.ws_players,
            "rate": self.rate,
            "duration": self.duration,
            "rush_multiplier": self.rush_multiplier,
            "rush_seconds": self.rush_seconds,
            "seed": self.seed,
            "stopped_early": self.stopped_early,
            "arrivals": self.arrivals,
            "skipped_no_idle_player": self.skipped_no_idle,
            "sent": len(self.sent),
            "send_failed": self.send_failed,
            "refused": dict(sorted(self.refused.items())),
            "answered": len(self.answered),
            "statuses": dict(sorted(self.statuses.items())),
            "no_result": self.no_result,
            "late_results": self.late_results,
            "answered_twice": self.answered_twice,
            "duplicates_planned": sum(1 for p in self.plays if p.duplicate),
            "duplicates_sent": len(self.duplicates),
            "duplicates_not_sent": dict(sorted(self.resends_not_sent.items())),
            "duplicates_consistent": self.duplicates_consistent,
            "inconsistencies": self.inconsistencies,
            "coupons_by_brand": dict(sorted(self.coupons_by_brand.items())),
            "latency_s": rounded(self.latency_summary()),
            "latency_ws_s": rounded(self.latency_summary("ws")),
            "latency_rest_s": rounded(self.latency_summary("rest")),
            "sent_per_s": round(self.sent_per_second, 3),
            "answered_per_s": round(self.answered_per_second, 3),
            "elapsed_s": round(self.elapsed, 3),
            "sending_s": round(self.sending_seconds, 3),
            "sockets_lost": self.sockets_lost,
            "unexpected_messages": self.unexpected_messages,
            "issued": self.issued_final,
            "budget": self.budget_total,
            "issued_curve": [
                {"seconds": round(s.seconds, 1), "issued": s.issued, "scheduled": s.scheduled}
                for s in self.samples
            ],
            "report_curve": self.report_curve,
            "ok": self.ok,
            "problems": self.problems(),
        }

    def render(self, *, charts: Sequence[str] = ()) -> str:
        lat = self.latency_summary()
        statuses = ", ".join(f"{k} {v:,}" for k, v in sorted(self.statuses.items())) or "none"
        refused = ", ".join(f"{k} {v:,}" for k, v in sorted(self.refused.items())) or "none"
        brands = ", ".join(
            f"{self.brand_names.get(k, k)} {v}" for k, v in sorted(self.coupons_by_brand.items())
        )
        rush = (
            f", rush {self.rush_multiplier:g}x for {self.rush_seconds:g} s"
            if self.rush_seconds > 0
            else ""
        )
        lines = [
            f"frolic crowd: game {self.game_id}, {self.players} players "
            f"({self.ws_players} on WebSockets, {self.players - self.ws_players} on REST), "
            f"{self.rate:g} plays/s for {self.duration:.0f} s{rush}",
        ]
        if self.stopped_early:
            lines.append(f"  stopped early     {self.stopped_early}")
        lines += [
            f"  plays             {self.arrivals:,} arrivals: {len(self.sent):,} sent, "
            f"{self.skipped_no_idle:,} skipped (no idle player), "
            f"{self.send_failed:,} failed to send",
            f"  answered          {len(self.answered):,}: {statuses}",
            f"  refused at intake {refused}",
            f"  no result         {self.no_result:,} (late results afterwards: "
            f"{self.late_results:,})",
            f"  answered twice    {self.answered_twice:,}",
            f"  resent plays      {len(self.duplicates):,}, answered consistently "
            f"{self.duplicates_consistent:,}"
            + "".join(f"; {n} {why}" for why, n in sorted(self.resends_not_sent.items())),
            f"  latency           p50 {_seconds(lat['p50'])}, p95 {_seconds(lat['p95'])}, "
            f"p99 {_seconds(lat['p99'])}, max {_seconds(lat['max'])} "
            "(play sent to result received)",
            f"  throughput        {self.sent_per_second:.1f} plays/s sent, "
            f"{self.answered_per_second:.1f} results/s over {self.elapsed:.0f} s",
        ]
        if brands:
            lines.append(f"  coupons won       {brands}")
        if self.issued_final is not None and self.budget_total is not None:
            lines.append(
                f"  issued (admin)    {self.issued_final:,} of {self.budget_total:,} budget"
                + (
                    f"; schedule allowed {self.samples[-1].scheduled:.1f} at the last sample"
                    if self.samples
                    else ""
                )
            )
        if self.sockets_lost or self.unexpected_messages:
            lines.append(
                f"  sockets lost      {self.sockets_lost}; unexpected messages "
                f"{self.unexpected_messages}"
            )
        lines += [f"  chart             {chart}" for chart in charts]
        problems = self.problems()
        lines.append("  verdict           " + ("; ".join(problems) if problems else "ok"))
        return "\n".join(lines)

    def pacing_chart(self) -> Figure | None:
        """Coupons issued against the release schedule, in minutes from the game's
        start: the admin report read every 2 s, and its own per-minute curve. None
        without an admin token's samples."""
        if not self.samples or not self.schedule:
            return None
        series = [
            Series(
                "release schedule",
                [(s / 60, v) for s, v in self.schedule],
                "tab:gray",
                dashed=True,
            ),
            Series(
                "issued (admin report, every 2 s)",
                [(s.seconds / 60, s.issued) for s in self.samples],
                "tab:red",
                steps=True,
            ),
        ]
        if self.report_curve:
            last_minute = self.schedule[-1][0] / 60  # the game's end
            series.append(
                Series(
                    "issued by each minute's end (report curve)",
                    [(0.0, 0.0)]
                    + [(min(p["minute"] + 1, last_minute), p["issued"]) for p in self.report_curve],
                    "tab:blue",
                    dashed=True,
                )
            )
        return line_chart(
            series,
            title=f"{self.title or 'game ' + self.game_id}: coupons issued vs schedule",
            x_label="time into the game (min)",
            y_label="coupons issued",
        )

    def latency_chart(self) -> Figure | None:
        """The latency CDF: which share of answered plays had their result within x s,
        drawn as the step function it is, with the percentiles the summary prints."""
        values = self.latencies()
        if not values:
            return None
        count = len(values)
        points = [(0.0, 0.0)] + [(v, 100 * (i + 1) / count) for i, v in enumerate(values)]
        marks = ", ".join(f"p{pct} {percentile(values, pct):.3f} s" for pct in PERCENTILES)
        return line_chart(
            [Series(f"{count:,} answered plays ({marks})", points, "tab:blue", steps=True)],
            title="Latency: play sent to result received",
            x_label="latency (s)",
            y_label="answered plays (%)",
        )


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f} s"
