"""`make bench` (export part): a 200,000-winner export on the local stack, and the memory
of the process that writes it.

A LocalStack in this process, so the export function runs here: this process is the
exporting process. The game's budgets, counters and issued coupons are written straight
into moto (two brands, four counters each: the walk crosses brands and counters), as
200,000 plays' worth of deliver would leave them. Then, as a marketer would: the export
is started over the admin API, read until done, and its file fetched through the
gateway's link, streamed and counted.

Memory is this process's peak resident set (VmHWM) over the export and the download:
the peak is reset first (`/proc/self/clear_refs`), so the seeding's own use is not
counted. moto's process, which holds the whole game in memory as DynamoDB would on its
disks, is reported beside it and not counted.
"""

from __future__ import annotations

import argparse
import csv
import io
import platform
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import urllib3
from readme import publish

from frolic.dal import codec
from frolic.dal.batches import chunks
from frolic.dal.tables import budget_key, counter_key, coupon_key
from frolic.models import CouponStatus
from frolic_tools.local import LocalClient, LocalStack, create_demo_game
from frolic_tools.schema import LOCAL_RESOURCES

WINNERS: Final = 200_000
BRANDS: Final = 2
COUNTERS: Final = 4
#: The target (issue 16): the exporting process stays under this.
RSS_LIMIT_MB: Final = 200
BATCH_WRITE: Final = 25
EXPORT_TIMEOUT: Final = 900.0
BLOCK: Final = 64 * 1024


def rss_kib(field: str, pid: int | str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/{pid}/status has no {field}")


def reset_peak() -> None:
    """Linux: writing 5 resets the process's peak resident set to its current one."""
    Path("/proc/self/clear_refs").write_text("5")


def seed_items(game_id: str, brand_ids: list[str], now: float) -> Iterator[dict[str, Any]]:
    per_counter = WINNERS // (len(brand_ids) * COUNTERS)
    for brand_id in brand_ids:
        for sub in range(COUNTERS):
            numbers = {"allotment": per_counter, "issued": per_counter, "poolSize": per_counter}
            if sub == 0:
                head = {"budget": per_counter * COUNTERS, "counters": COUNTERS, "revision": 1}
                yield {**budget_key(game_id, brand_id), **head, **numbers}
            else:
                yield {**counter_key(game_id, brand_id, sub), **numbers}
            for ordinal in range(1, per_counter + 1):
                play = f"bench-{brand_id}-{sub}-{ordinal}"
                yield {
                    **coupon_key(game_id, brand_id, ordinal, sub),
                    "code": f"X{sub}{ordinal:07d}{brand_id[:4]}",
                    "status": CouponStatus.ISSUED.value,
                    "playId": play,
                    "userId": f"player-{ordinal % 50_000}",
                    "issuedAt": now,
                    "gameId": game_id,
                    "brandId": brand_id,
                    "ordinal": ordinal,
                    "sub": sub,
                }


def seed(stack: LocalStack, game_id: str, brand_ids: list[str]) -> None:
    db = stack.boto3_session().client("dynamodb", endpoint_url=stack.moto_url)
    table = LOCAL_RESOURCES["STATE_TABLE"]
    batch: list[dict[str, Any]] = []
    for item in seed_items(game_id, brand_ids, time.time()):
        batch.append({"PutRequest": {"Item": codec.dump(item)}})
        if len(batch) == BATCH_WRITE:
            _write(db, table, batch)
            batch = []
    for rest in chunks(batch, BATCH_WRITE):
        _write(db, table, list(rest))


def _write(db: Any, table: str, requests: list[dict[str, Any]]) -> None:
    pending = {table: requests}
    while pending:
        pending = db.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}


def run() -> dict[str, Any]:
    with LocalStack("127.0.0.1", 0, web_root=None) as stack:
        admin = LocalClient(stack.base_url, timeout=60.0).as_user("bench-admin", admin=True)
        game = create_demo_game(admin, minutes=5, budgets=(1,) * BRANDS, name="Export bench")
        # The demo's own budgets are replaced by the seeded ones.
        started = time.perf_counter()
        seed(stack, game.game_id, list(game.brand_ids))
        seeded = time.perf_counter() - started
        before_kib = rss_kib("VmRSS")
        reset_peak()
        started = time.perf_counter()
        job = admin.call("POST", f"/admin/games/{game.game_id}/exports", {"kind": "winners"})
        path = f"/admin/games/{game.game_id}/exports/{job['exportId']}"
        while (job := admin.call("GET", path))["status"] == "running":
            if time.perf_counter() - started > EXPORT_TIMEOUT:
                raise SystemExit(f"bench export: not done after {EXPORT_TIMEOUT:.0f} s")
            time.sleep(0.5)
        written = time.perf_counter() - started
        if job["status"] != "done":
            raise SystemExit(f"bench export: the export {job['status']}: {job.get('error')}")
        rows, size = download(job["downloadUrl"])
        total = time.perf_counter() - started
        return {
            "rows": job["rows"],
            "downloaded_rows": rows,
            "bytes": size,
            "seed_s": seeded,
            "write_s": written,
            "total_s": total,
            "before_mb": before_kib * 1024 / 1e6,
            "peak_mb": rss_kib("VmHWM") * 1024 / 1e6,
            "moto_mb": rss_kib("VmRSS", stack.moto_pid) * 1024 / 1e6 if stack.moto_pid else 0.0,
        }


def download(url: str) -> tuple[int, int]:
    """Rows and bytes of the file, read a block at a time (and held no longer)."""
    response = urllib3.request("GET", url, preload_content=False, retries=False)
    if response.status != 200:
        raise SystemExit(f"bench export: the link answered {response.status}")
    counted = _Counting(response)
    text = io.TextIOWrapper(io.BufferedReader(counted, BLOCK), encoding="utf-8", newline="")
    reader = csv.DictReader(text)
    rows = sum(1 for row in reader if row["status"] == CouponStatus.ISSUED.value)
    response.release_conn()
    return rows, counted.read_bytes


class _Counting(io.RawIOBase):
    def __init__(self, response: urllib3.BaseHTTPResponse) -> None:
        self._response = response
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._response.read(min(len(buffer), BLOCK))
        buffer[: len(data)] = data
        self.read_bytes += len(data)
        return len(data)


def target_met(result: dict[str, Any]) -> bool:
    return bool(result["peak_mb"] < RSS_LIMIT_MB and result["downloaded_rows"] == WINNERS)


def render(result: dict[str, Any]) -> str:
    held = target_met(result)
    lines = [
        f"`make bench`, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, Python "
        f"{platform.python_version()}. The local stack in this process (the export function "
        "runs here, so this is the exporting process); moto in its own. "
        f"{WINNERS:,} issued coupons ({BRANDS} brands × {COUNTERS} counters) seeded into moto, "
        "then exported over the admin API and downloaded through the gateway's link.",
        "",
        "| winners | rows in file | file | written in | written and downloaded in "
        "| exporting process before | its peak during | moto's process |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {WINNERS:,} | {result['downloaded_rows']:,} | "
        f"{result['bytes'] / 1e6:.1f} MB | {result['write_s']:.1f} s | {result['total_s']:.1f} s | "
        f"{result['before_mb']:.0f} MB | {result['peak_mb']:.0f} MB | "
        f"{result['moto_mb']:.0f} MB |",
        "",
        f"- Target: the exporting process under {RSS_LIMIT_MB} MB RSS with every row in the "
        f"file: {'met' if held else 'NOT met'} (peak {result['peak_mb']:.0f} MB, "
        f"{result['downloaded_rows']:,} of {WINNERS:,} rows; the job counted "
        f"{result['rows']:,}).",
        f"- Seeding moto took {result['seed_s']:.0f} s (not part of the export).",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--readme", type=Path, default=None)
    args = parser.parse_args()
    result = run()
    publish(
        render(result),
        title="Export: 200,000 winners",
        out=args.out,
        readme=args.readme,
        section="export",
    )
    return 0 if target_met(result) else 1


if __name__ == "__main__":
    sys.exit(main())
