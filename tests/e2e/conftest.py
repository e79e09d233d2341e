"""One local stack for the e2e package: moto, the gateway, the functions and the
mappings, on a free loopback port, reached over real HTTP and real WebSockets.

Package-scoped (not session-scoped) on purpose: the stack sets process-wide state
(environment, moto's backends, pollers hitting moto), so it must be gone before the
integration tests' in-process moto starts in the same pytest run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from frolic_tools.local import DemoGame, LocalClient, LocalStack, create_demo_game
from frolic_tools.local.events_out import EventsOut
from tests.e2e.receiver import EventReceiver

#: A short reel, so a play that no function decides expires within the suite's time.
REEL_SECONDS = 4.0
GRACE_SECONDS = 1.0
SECRET = "a file outside the web root"
#: What the stack signs the events it posts with.
EVENTS_SECRET = b"e2e-events-secret"
PAGES = {
    "index.html": "<!doctype html><title>player</title>",
    "admin.html": "<!doctype html><title>admin</title>",
    "app.js": "console.log('frolic');",
    "style.css": "body { margin: 0 }",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Powertools warns when a function published no metrics; locally none are."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.filterwarnings("ignore:No application metrics"))


@pytest.fixture(scope="package")
def web_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("site")
    root = site / "web"
    root.mkdir()
    for name, text in PAGES.items():
        (root / name).write_text(text)
    (root / ".env").write_text(SECRET)
    (site / "secret.txt").write_text(SECRET)
    return root


@pytest.fixture(scope="package")
def receiver() -> Iterator[EventReceiver]:
    """Where the stack posts its events, as `frolic local --events-to` would."""
    running = EventReceiver()
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="package")
def events_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The stack's out/ folder: events.jsonl keeps a copy of each event."""
    return tmp_path_factory.mktemp("out")


@pytest.fixture(scope="package")
def stack(web_root: Path, receiver: EventReceiver, events_copy: Path) -> Iterator[LocalStack]:
    environment = {"REEL_SECONDS": str(REEL_SECONDS), "EXPIRY_GRACE_SECONDS": str(GRACE_SECONDS)}
    events_out = EventsOut(out_dir=events_copy, target=receiver.url, secret=EVENTS_SECRET)
    with LocalStack(
        "127.0.0.1", 0, web_root=web_root, environment=environment, events_out=events_out
    ) as running:
        yield running


@pytest.fixture(scope="package")
def anonymous(stack: LocalStack) -> LocalClient:
    return LocalClient(stack.base_url)


@pytest.fixture(scope="package")
def admin(anonymous: LocalClient) -> LocalClient:
    return anonymous.as_user("marketer-1", admin=True)


@pytest.fixture(scope="package")
def game(anonymous: LocalClient) -> DemoGame:
    """A live game any player may spin as often as they like."""
    return create_demo_game(
        anonymous,
        minutes=10,
        budgets=(40, 20),
        config={"minSecondsBetweenPlays": 0, "maxWinsPerUser": 1000},
    )
