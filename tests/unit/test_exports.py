"""The export's pure parts: rows to CSV chunks, chunks to upload parts, the job run."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

import pytest

from frolic.exports import (
    COLUMNS,
    CouponRow,
    Exporter,
    ExportKind,
    ExportScope,
    RowCount,
    csv_chunks,
    new_export_id,
    object_key,
    parts,
)


def coupon(ordinal: int, status: str = "ISSUED", code: str | None = None) -> CouponRow:
    return CouponRow(
        brand_id="b",
        counter=0,
        ordinal=ordinal,
        code=code or f"C-{ordinal:04d}",
        status=status,
        play_id=f"p{ordinal}",
        user_id=f"u{ordinal}",
        issued_at=1_900_000_000.0 + ordinal,
    )


def read(chunks: Iterable[bytes]) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(chunks).decode())))


def test_winners_leave_out_coupons_no_player_holds() -> None:
    rows = [coupon(1), coupon(2, "VOID"), coupon(3, "REDEEMED"), coupon(4, "AVAILABLE")]
    count = RowCount()
    table = read(csv_chunks(ExportKind.WINNERS, rows, count))
    assert table[0] == list(COLUMNS[ExportKind.WINNERS])
    assert [r[0] for r in table[1:]] == ["p1", "p3"]
    assert count.rows == 2
    # And the audit keeps them all
    assert len(read(csv_chunks(ExportKind.AUDIT, rows))) == 5


@pytest.mark.parametrize("code", ["=SUM(A1)", "+1", "-1", "@cmd", "\tx"])
def test_a_cell_a_spreadsheet_would_evaluate_is_quoted(code: str) -> None:
    table = read(csv_chunks(ExportKind.WINNERS, [coupon(1, code=code)]))
    assert table[1][3] == f"'{code}"


def test_rows_become_chunks_of_a_bounded_number_of_rows() -> None:
    chunks = list(
        csv_chunks(ExportKind.WINNERS, (coupon(n) for n in range(1, 11)), rows_per_chunk=4)
    )
    # header + 4, 4, then the last 2
    assert [chunk.count(b"\r\n") for chunk in chunks] == [5, 4, 2]


def test_parts_are_at_least_the_part_size_but_the_last() -> None:
    chunks = [b"x" * 3] * 7  # 21 bytes
    assert [len(p) for p in parts(chunks, size=5)] == [6, 6, 6, 3]
    assert b"".join(parts(chunks, size=5)) == b"x" * 21
    # And an export with nothing in it is still one (empty) part
    assert list(parts([], size=5)) == [b""]


def test_parts_are_made_as_the_chunks_come() -> None:
    """A part goes out before the next chunk is read: memory holds a part, not the file."""
    read_so_far: list[int] = []

    def chunks() -> Iterator[bytes]:
        for n in range(6):
            read_so_far.append(n)
            yield b"y" * 4

    stream = parts(chunks(), size=8)
    next(stream)
    assert read_so_far == [0, 1]


def test_export_ids_sort_by_time() -> None:
    earlier, later = new_export_id(1_900_000_000.5, "ffff"), new_export_id(1_900_000_001.0, "0000")
    assert sorted([later, earlier]) == [earlier, later]
    assert object_key("g", earlier, ExportKind.AUDIT) == f"exports/g/{earlier}-audit.csv"


class Ledger:
    def __init__(self, kind: ExportKind | None) -> None:
        self.kind = kind
        self.finished: tuple[int, str] | None = None
        self.failed: str | None = None

    def scope_of(self, game_id: str, export_id: str) -> ExportScope | None:
        return None if self.kind is None else ExportScope(self.kind)

    def finish(self, game_id: str, export_id: str, *, rows: int, key: str, now: float) -> None:
        self.finished = (rows, key)

    def fail(self, game_id: str, export_id: str, *, reason: str, now: float) -> None:
        self.failed = reason


class Coupons:
    def coupon_rows(
        self, game_id: str, brands: frozenset[str] | None = None
    ) -> Iterator[CouponRow]:
        yield from (coupon(1), coupon(2, "VOID"), coupon(3))


class Sink:
    def __init__(self, broken: bool = False) -> None:
        self.broken = broken
        self.files: dict[str, bytes] = {}

    def upload(self, key: str, parts: Iterable[bytes]) -> None:
        data = b""
        for part in parts:
            if self.broken:
                raise OSError("connection reset")
            data += part
        self.files[key] = data


def test_a_job_writes_its_file_then_records_its_rows() -> None:
    ledger, sink = Ledger(ExportKind.WINNERS), Sink()
    rows = Exporter(coupons=Coupons(), sink=sink, jobs=ledger).run("g", "e1")
    assert rows == 2
    assert ledger.finished == (2, "exports/g/e1-winners.csv")
    assert len(read([sink.files["exports/g/e1-winners.csv"]])) == 3


def test_a_job_that_cannot_write_is_marked_failed_and_raises_for_a_retry() -> None:
    ledger = Ledger(ExportKind.AUDIT)
    with pytest.raises(OSError, match="connection reset"):
        Exporter(coupons=Coupons(), sink=Sink(broken=True), jobs=ledger).run("g", "e1")
    assert (ledger.failed, ledger.finished) == ("the export could not be written", None)


def test_a_job_that_does_not_exist_writes_nothing() -> None:
    sink = Sink()
    assert Exporter(coupons=Coupons(), sink=sink, jobs=Ledger(None)).run("g", "gone") is None
    assert sink.files == {}
