"""A marketer's CSV export of a game: its winners, or the audit trail of its coupons.

The rows come from the coupon items themselves, walked by ordinal: every ordinal a
budget counter has leased is one coupon that went (or is on its way) to a won play,
and the coupon item says to which play and player, when it was issued, redeemed or
voided. So an export reads each leased coupon once, in batches, and never scans.

A big game's export is written while it is read: rows become CSV text a batch at a
time, and text becomes upload parts of a fixed size, so what the exporter holds never
grows with the rows (`csv_chunks`, `parts`). Pure: the reads and the upload are the
DAL's (`frolic.dal.exports`), the orchestration is `Exporter`'s.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final, Protocol

from frolic.models import BoundaryModel, CouponStatus, Identifier, iso_utc
from frolic.observability import logger


class ExportKind(StrEnum):
    #: One row per coupon issued to a player (ISSUED or REDEEMED): who won what.
    WINNERS = "winners"
    #: One row per leased coupon, whatever became of it, with every time and actor.
    AUDIT = "audit"


class ExportStatus(StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ExportRequest(BoundaryModel):
    """What a marketer asks for."""

    kind: ExportKind


class ExportInvocation(BoundaryModel):
    """What the admin API hands the export function."""

    game_id: Identifier
    export_id: Identifier


@dataclass(frozen=True, slots=True)
class CouponRow:
    """One leased coupon as its item tells it."""

    brand_id: str
    counter: int
    ordinal: int
    code: str
    status: str
    play_id: str | None = None
    user_id: str | None = None
    issued_at: float | None = None
    redeemed_at: float | None = None
    redeemed_by: str | None = None
    voided_at: float | None = None


COLUMNS: Final[dict[ExportKind, tuple[str, ...]]] = {
    ExportKind.WINNERS: (
        "playId",
        "playerId",
        "brandId",
        "code",
        "status",
        "issuedAt",
        "redeemedAt",
    ),
    ExportKind.AUDIT: (
        "brandId",
        "counter",
        "ordinal",
        "code",
        "status",
        "playId",
        "playerId",
        "issuedAt",
        "redeemedAt",
        "redeemedBy",
        "voidedAt",
    ),
}
WON: Final = frozenset({CouponStatus.ISSUED.value, CouponStatus.REDEEMED.value})
#: A cell a spreadsheet would read as a formula starts with one of these; such a cell is
#: written after a quote, so opening an export never runs what a code or id holds.
FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")
#: Rows turned into text at a time: a chunk is a few hundred KB at most.
ROWS_PER_CHUNK: Final = 2_000
#: S3 takes parts of 5 MiB or more (the last may be smaller); 8 MiB keeps a 200,000-row
#: export to a handful of parts and the exporter's memory to about two parts.
PART_BYTES: Final = 8 * 1024 * 1024


def included(kind: ExportKind, row: CouponRow) -> bool:
    return kind is ExportKind.AUDIT or row.status in WON


def _time(value: float | None) -> str:
    return iso_utc(datetime.fromtimestamp(value, UTC)) if value is not None else ""


def _safe(value: str | None) -> str:
    text = value or ""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


#: Each column's cell, from the row: one place for what a column shows, whichever
#: kinds of export list it.
CELLS: Final[dict[str, Callable[[CouponRow], str]]] = {
    "playId": lambda row: _safe(row.play_id),
    "playerId": lambda row: _safe(row.user_id),
    "brandId": lambda row: _safe(row.brand_id),
    "counter": lambda row: str(row.counter),
    "ordinal": lambda row: str(row.ordinal),
    "code": lambda row: _safe(row.code),
    "status": lambda row: row.status,
    "issuedAt": lambda row: _time(row.issued_at),
    "redeemedAt": lambda row: _time(row.redeemed_at),
    "redeemedBy": lambda row: _safe(row.redeemed_by),
    "voidedAt": lambda row: _time(row.voided_at),
}


def cells(kind: ExportKind, row: CouponRow) -> list[str]:
    return [CELLS[column](row) for column in COLUMNS[kind]]


class RowCount:
    """Counts the rows `csv_chunks` writes, for the job's record."""

    def __init__(self) -> None:
        self.rows = 0


def csv_chunks(
    kind: ExportKind,
    rows: Iterable[CouponRow],
    count: RowCount | None = None,
    rows_per_chunk: int = ROWS_PER_CHUNK,
) -> Iterator[bytes]:
    """The export as UTF-8 CSV (RFC 4180 line ends), header first, a chunk per
    `rows_per_chunk` rows included in `kind`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS[kind])
    pending = 0
    for row in rows:
        if not included(kind, row):
            continue
        writer.writerow(cells(kind, row))
        pending += 1
        if count is not None:
            count.rows += 1
        if pending >= rows_per_chunk:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield buffer.getvalue().encode()


def parts(chunks: Iterable[bytes], size: int = PART_BYTES) -> Iterator[bytes]:
    """The chunks regrouped into parts of at least `size` bytes, the last one as small
    as what is left (never empty unless everything was)."""
    held: list[bytes] = []
    held_bytes = 0
    for chunk in chunks:
        held.append(chunk)
        held_bytes += len(chunk)
        if held_bytes >= size:
            yield b"".join(held)
            held, held_bytes = [], 0
    if held or held_bytes == 0:
        yield b"".join(held)


#: Every export file sits under this folder of the exports bucket, and only they do.
EXPORTS_FOLDER: Final = "exports"


def object_key(game_id: str, export_id: str, kind: ExportKind) -> str:
    return f"{EXPORTS_FOLDER}/{game_id}/{export_id}-{kind.value}.csv"


def file_name(game_id: str, kind: ExportKind, requested_at: float) -> str:
    """What the marketer's browser saves the file as."""
    stamp = datetime.fromtimestamp(requested_at, UTC).strftime("%Y%m%d-%H%M%S")
    return f"frolic-{game_id}-{kind.value}-{stamp}.csv"


def new_export_id(now: float, suffix: str) -> str:
    """Sorts by time, so a game's newest exports are the first of one Query."""
    return f"{int(now * 1000):013d}-{suffix}"


# -- the job ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExportScope:
    """What a job exports: its kind, and its brands (None: every brand of the game)."""

    kind: ExportKind
    brands: frozenset[str] | None = None


class CouponSource(Protocol):
    def coupon_rows(
        self, game_id: str, brands: frozenset[str] | None = None
    ) -> Iterator[CouponRow]: ...


class ObjectSink(Protocol):
    def upload(self, key: str, parts: Iterable[bytes]) -> None: ...


class JobLedger(Protocol):
    def scope_of(self, game_id: str, export_id: str) -> ExportScope | None: ...

    def finish(self, game_id: str, export_id: str, *, rows: int, key: str, now: float) -> None: ...

    def fail(self, game_id: str, export_id: str, *, reason: str, now: float) -> None: ...


class Exporter:
    """Runs one export job: the rows read, written and uploaded as one stream."""

    def __init__(
        self,
        *,
        coupons: CouponSource,
        sink: ObjectSink,
        jobs: JobLedger,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._coupons = coupons
        self._sink = sink
        self._jobs = jobs
        self._clock = clock

    def run(self, game_id: str, export_id: str) -> int | None:
        """The rows exported, or None for a job that does not exist. A job run twice
        (an asynchronous invocation retried) writes the same object again."""
        scope = self._jobs.scope_of(game_id, export_id)
        if scope is None:
            logger.warning("export job not found", game_id=game_id, export_id=export_id)
            return None
        kind = scope.kind
        key = object_key(game_id, export_id, kind)
        count = RowCount()
        try:
            rows = self._coupons.coupon_rows(game_id, scope.brands)
            self._sink.upload(key, parts(csv_chunks(kind, rows, count)))
        except Exception:
            self._jobs.fail(
                game_id, export_id, reason="the export could not be written", now=self._clock()
            )
            raise
        self._jobs.finish(game_id, export_id, rows=count.rows, key=key, now=self._clock())
        logger.info("export written", game_id=game_id, kind=kind.value, rows=count.rows)
        return count.rows
