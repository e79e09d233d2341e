"""`frolic local` in the foreground: start the stack, say where it is, wait for Ctrl-C
or SIGTERM, stop cleanly and exit 0."""

from __future__ import annotations

import logging
import signal
import sys
import threading
import warnings
from collections.abc import Callable
from types import FrameType
from typing import TextIO

from frolic_tools.local.client import ApiError
from frolic_tools.local.demo import create_demo_game
from frolic_tools.local.events_out import EventsOut
from frolic_tools.local.stack import FAKE_CREDENTIAL, LocalStack, LocalStackError


def run(
    *,
    host: str,
    port: int,
    demo: bool,
    verbose: bool,
    events: EventsOut,
    out: TextIO = sys.stdout,
) -> int:
    """Run until told to stop; LocalStackError (one line) when the stack cannot start."""
    # Metrics are not published locally; Powertools would warn of every empty flush.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="frolic local: %(levelname)s %(message)s",
    )
    stop = threading.Event()
    restore = _on_stop_signals(stop)
    stack = LocalStack(
        host, port, handler_log_level="INFO" if verbose else "WARNING", events_out=events
    )
    try:
        stack.start()
        width = max(len(name) for name in stack.endpoints())
        print("frolic local: running", file=out)
        for name, url in stack.endpoints().items():
            print(f"  {name:<{width}}  {url}", file=out)
        print(
            f"  {'reconcile':<{width}}  AWS_ACCESS_KEY_ID={FAKE_CREDENTIAL} "
            f"AWS_SECRET_ACCESS_KEY={FAKE_CREDENTIAL} AWS_DEFAULT_REGION=us-east-1 "
            f"frolic reconcile --endpoint {stack.moto_url} --game ID",
            file=out,
        )
        copy = events.out_dir / "events.jsonl"
        where = (
            f"posted to {events.target}, and copied to {copy}"
            if events.target
            else f"copied to {copy}"
        )
        print(f"  {'events':<{width}}  {where}", file=out)
        if demo:
            try:
                game = create_demo_game(stack.base_url)
            except ApiError as error:
                raise LocalStackError(f"the demo game could not be created: {error}") from None
            print(f"  {'demo':<{width}}  {game.describe()}", file=out)
        print("Ctrl-C to stop.", file=out, flush=True)
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
        restore()
    print("frolic local: stopped", file=out, flush=True)
    return 0


def _on_stop_signals(stop: threading.Event) -> Callable[[], None]:
    """Ctrl-C and SIGTERM set `stop` (instead of interrupting whatever is running);
    the returned function puts the previous handlers back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {signum: signal.signal(signum, handle) for signum in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    return restore
