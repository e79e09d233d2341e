"""The real pages in a real browser: headless Chromium, driven over CDP (`browser.py`),
against the package's local stack.

Why a browser at all: the other e2e tests speak HTTP and WebSockets the way the pages
should; only a browser shows that the pages really do (their scripts load and run,
their forms send what the API takes, the socket goes live, the reels land on the
result). A missing Chromium fails these tests with the install command: a skip would
hide a broken page behind a green run.

Screenshots go to tests/e2e/artifacts/ (git-ignored), for a person to look at.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from frolic_tools.local import LocalClient, LocalStack, create_demo_game
from frolic_tools.local.paths import WEB_ROOT
from tests.e2e.browser import Chromium, ChromiumNotFoundError, Page, find_chromium

ARTIFACTS = Path(__file__).parent / "artifacts"
FINAL = ("won", "lost", "rejected", "expired")
#: The reels run ~10 s and the page then polls for up to 20 s; a result shows well inside.
RESULT_SECONDS = 20.0


def js(selector: str, expression: str) -> str:
    """A condition on one element, `el`; false while the element is not there."""
    return f"(el => !!el && ({expression}))(document.querySelector({json.dumps(selector)}))"


@pytest.fixture(scope="module")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    """One browser for the module (a second or two to start); each test gets its own tab."""
    binary: str | None = None
    try:
        binary = find_chromium()
    except ChromiumNotFoundError as error:
        missing = str(error)
    if binary is None:
        pytest.fail(missing, pytrace=False)  # outside the except: one message, no chain
    with Chromium.launch(binary) as running:
        yield running


@pytest.fixture(scope="module")
def site(stack: LocalStack) -> Iterator[str]:
    """The package's stack, serving the real pages from web/ while this module runs.

    The shared stack serves a stand-in web root that the gateway tests check byte for
    byte, and one stack per process is all there can be; so the gateway is pointed at
    web/ here (it reads its root on every request) and back afterwards.
    """
    gateway = stack._gateway_or_fail()
    served = gateway.web_root
    gateway.web_root = WEB_ROOT
    try:
        yield stack.base_url
    finally:
        gateway.web_root = served


@pytest.fixture
def page(browser: Chromium, artifacts: Path, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh tab; when the test failed, its last picture is kept for the post-mortem."""
    failure_picture = artifacts / f"{request.node.name}-failure.png"
    failure_picture.unlink(missing_ok=True)  # an old run's failure is not this run's
    tab = browser.new_page()
    failed_before = request.session.testsfailed
    try:
        yield tab
    finally:
        if request.session.testsfailed > failed_before:
            with contextlib.suppress(AssertionError):  # the tab may be what broke
                tab.screenshot(failure_picture, full_page=True)
        tab.close()


def status_says(page: Page, words: str, timeout: float = 10.0) -> str:
    """Wait until the admin page's status line reports success with `words` in it.

    An error there fails at once with the page's own words, instead of a timeout.
    """
    condition = js(
        "#status-message",
        "el.dataset.kind === 'error' ? 'error: ' + el.innerText"
        f" : (el.dataset.kind === 'ok' && el.innerText.includes({words!r}) ? el.innerText : '')",
    )
    said = str(page.wait_for(condition, timeout, what=f"the status line to say {words!r}"))
    assert not said.startswith("error: "), said
    return said


def test_a_marketer_sets_up_a_live_game_in_the_admin_page(
    site: str, page: Page, admin: LocalClient, artifacts: Path, tmp_path: Path
) -> None:
    page.navigate(f"{site}/admin")
    page.fill("#admin-name", "browser marketer")
    page.click("#admin-sign-in")
    status_says(page, "Signed in as browser-marketer")

    page.fill("#campaign-name", "Browser spring")
    page.click("#create-campaign")
    campaign_id = page.wait_for(js("#created-campaign", "el.dataset.campaignId"))
    assert page.evaluate("document.querySelector('#game-campaign').value") == campaign_id

    page.fill("#game-name", "Browser noon spin")
    page.click("#create-game")
    game_id = str(page.wait_for(js("#created-game", "el.dataset.gameId")))

    page.fill("#brand-name", "Browser Bagels")
    page.click("#create-brand")
    brand_id = str(page.wait_for(js("#created-brand", "el.dataset.brandId")))

    page.fill("#budget-amount", "3")
    page.click("#set-budget")
    status_says(page, "is now 3")

    csv = tmp_path / "codes.csv"
    csv.write_text("code\nBAGEL-0001\nBAGEL-0002\nBAGEL-0003\n")
    page.set_files("#coupon-file", [csv])
    page.click("#upload-coupons")
    page.wait_for(js("#upload-result", "el.dataset.added !== undefined"))
    assert page.attribute("#upload-result", "data-added") == "3"
    assert page.attribute("#upload-result", "data-pool-size") == "3"

    page.fill("#game-status", "LIVE")
    page.click("#set-status")
    status_says(page, f"Game {game_id} is now LIVE")

    page.click("#show-report")
    page.wait_for(
        js("#report", f"el.dataset.state === 'loaded' && el.dataset.reportGame === {game_id!r}")
    )
    cells = page.evaluate(
        "[...document.querySelectorAll('#brand-rows tr')]"
        ".map(tr => [...tr.children].map(c => c.innerText.trim()))"
    )
    assert cells == [[f"Browser Bagels ({brand_id})", "3", "0", "3", "3"]]
    summary = page.text("#chart-summary")
    assert summary.startswith("Minute "), summary
    assert page.attribute("#pacing-chart", "aria-label") == f"Pacing chart. {summary}"
    inked = page.evaluate(
        "(c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; })"
        "(document.querySelector('#pacing-chart'))"
    )
    assert inked > 1000, f"the pacing chart drew only {inked} pixels"
    # The campaign list follows the status change with its own request.
    page.wait_for(js(f"#campaign-list [data-game={game_id!r}] .badge", "el.innerText === 'LIVE'"))

    page.screenshot(artifacts / "admin-report.png", selector="#report")
    page.screenshot(artifacts / "admin-page.png", full_page=True)

    # What the page showed is what the API holds.
    assert admin.call("GET", f"/admin/games/{game_id}")["status"] == "LIVE"
    report = admin.call("GET", f"/admin/games/{game_id}/report")
    assert report["brands"] == [
        {
            "brandId": brand_id,
            "budget": 3,
            "issued": 0,
            "remaining": 3,
            "poolSize": 3,
            "counters": 1,
        }
    ]
    assert page.errors == []
    assert page.network_errors == []


def test_a_marketer_splits_a_hot_budget_over_counters_in_the_admin_page(
    site: str, page: Page, admin: LocalClient
) -> None:
    # Given a game and a brand, made over the API
    now = datetime.now(UTC).replace(microsecond=0)
    window = {
        "startTime": now.isoformat().replace("+00:00", "Z"),
        "endTime": (now + timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
    }
    campaign = admin.call("POST", "/admin/campaigns", {"name": "Hot spring", **window})
    game = admin.call(
        "POST", f"/admin/campaigns/{campaign['campaignId']}/games", {"name": "TV spot", **window}
    )
    brand = admin.call("POST", "/admin/brands", {"name": "Hot Bagels"})
    page.navigate(f"{site}/admin")
    page.fill("#admin-name", "hot marketer")
    page.click("#admin-sign-in")
    status_says(page, "Signed in as hot-marketer")
    # When the marketer sets a budget of 40 over 4 counters
    page.fill("#budget-game", game["gameId"])
    page.fill("#budget-brand", brand["brandId"])
    page.fill("#budget-amount", "40")
    page.fill("#budget-counters", "4")
    page.click("#set-budget")
    # Then the page says so, forgets the split for the next brand, and the API holds it
    status_says(page, "split over 4 counters")
    assert page.evaluate("document.querySelector('#budget-counters').value") == ""
    report = admin.call("GET", f"/admin/games/{game['gameId']}/report")
    assert [(b["budget"], b["counters"]) for b in report["brands"]] == [(40, 4)]
    assert page.errors == []


def test_a_player_signs_in_spins_and_wins_a_coupon(
    site: str, page: Page, anonymous: LocalClient, stack: LocalStack, artifacts: Path
) -> None:
    # Half a minute into a five-minute window with 60 coupons and no plays yet, the
    # schedule owes ~6 coupons and one play is all the traffic there is: the pacing
    # gives the first play a win probability of 1, so this test sees a win every time.
    game = create_demo_game(
        anonymous,
        minutes=5,
        budgets=(60,),
        brand_names=("Browser Bakery",),
        start=datetime.now(UTC) - timedelta(seconds=30),
        name="Browser spin",
    )
    page.navigate(f"{site}/?game={game.game_id}")
    assert page.evaluate("document.querySelector('#game-id').value") == game.game_id
    sockets_before = set(stack.connection_ids())
    page.fill("#player-name", "Browser Player")
    page.click("#sign-in")
    page.wait_for(js("#connection-status", "el.dataset.state === 'live'"), 10.0)
    assert page.text("#signed-in-name") == "Browser-Player"
    assert set(stack.connection_ids()) - sockets_before, (
        "the page is live, the gateway has no socket"
    )
    page.screenshot(artifacts / "player-live.png")

    page.click("#spin")
    page.wait_for(js("#spin", "el.getAttribute('aria-disabled') === 'true'"))
    page.screenshot(artifacts / "player-spinning.png")
    status = page.wait_for(
        js("#result", f"{list(FINAL)!r}.includes(el.dataset.status) && el.dataset.status"),
        RESULT_SECONDS,
        what="a final result on #result",
    )
    # The reels land with a short bounce: picture them once it is over.
    page.wait_for("document.getAnimations().every(a => a.animationName !== 'land')")
    page.screenshot(artifacts / "player-result.png", full_page=True)
    assert status == "won", f"the first play should win; the page says {page.text('#result')!r}"

    code = page.text("#coupon-code")
    assert code
    play_id = page.attribute("#result", "data-play-id")
    assert play_id
    reply = anonymous.as_user("Browser-Player").result(play_id)
    assert reply.status == 200, f"GET /plays/{play_id}: {reply.status} {reply.body!r}"
    view: dict[str, Any] = reply.json()
    assert view["status"] == "won"
    assert view["coupon"]["code"] == code
    assert view["coupon"]["brandId"] == game.brand_ids[0]
    assert page.evaluate("document.querySelectorAll('#coupons li').length") == 1

    # The code stays out of every URL the page opened and of the storage it keeps.
    assert code not in page.url
    requested = page.evaluate("performance.getEntriesByType('resource').map(e => e.name)")
    assert requested, "the page made no requests?"
    assert not [url for url in requested if code in url]
    assert code not in page.evaluate("JSON.stringify(Object.entries(localStorage))")
    assert code not in page.evaluate("JSON.stringify(Object.entries(sessionStorage))")
    assert not [message for message in page.console if code in message.text]
    assert page.errors == []
    # A 404 while polling for a play not yet stored is the page's protocol; nothing else.
    assert [line for line in page.network_errors if "/plays/" not in line] == []
