"""The real pages in a real browser: Debian's headless Chromium under Playwright
(`browser.py`), against the package's local stack.

Why a browser at all: the other e2e tests speak HTTP and WebSockets the way the pages
should; only a browser shows that the pages really do (their scripts load and run,
their forms send what the API takes, the socket goes live, the reels land on the
result). A missing Chromium fails these tests with the install command: a skip would
hide a broken page behind a green run.

Every wait is Playwright's own: actions wait for their element, `expect` retries its
assertion until it holds or its timeout passes. Pictures of the pages go to
out/screenshots/ for the README's readers; a failed test leaves its last picture and a
Playwright trace in tests/e2e/artifacts/ (both git-ignored).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, Error, Page, expect, sync_playwright

from frolic.game_list import LIST_SECONDS
from frolic_tools.local import LocalClient, LocalStack, create_demo_game
from frolic_tools.local.paths import REPO_ROOT, WEB_ROOT
from tests.e2e.accessibility import blocking_violations
from tests.e2e.browser import (
    ENV_BINARY,
    VIEWPORT,
    ChromiumNotFoundError,
    PageWatch,
    find_chromium,
    launch_chromium,
)
from tests.e2e.games import RESULT_SECONDS, game_under_way, wait_until_issued
from tests.e2e.waiting import final_result

ARTIFACTS = Path(__file__).parent / "artifacts"
SCREENSHOTS = REPO_ROOT / "out" / "screenshots"
FINAL_STATUS = re.compile(r"^(won|lost|rejected|expired)$")
#: Each step answers within a second or two locally; the margin is for a loaded machine.
STEP_MS = 10_000
#: The reels run ~10 s and the page then polls for up to 20 s; a result shows well inside.
RESULT_MS = int(RESULT_SECONDS * 1000)

expect.set_options(timeout=STEP_MS)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One browser for the module (a second or two to start); each test gets its own
    context, so no cookie or storage leaks from one test to the next."""
    binary: str | None = None
    try:
        binary = find_chromium()
    except ChromiumNotFoundError as error:
        missing = str(error)
    if binary is None:
        pytest.fail(missing, pytrace=False)  # outside the except: one message, no chain
    with sync_playwright() as playwright:
        running = launch_chromium(playwright, binary)
        try:
            yield running
        finally:
            running.close()


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
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh tab, traced; a failed test keeps its trace and last picture."""
    failure_picture = ARTIFACTS / f"{request.node.name}-failure.png"
    failure_trace = ARTIFACTS / f"{request.node.name}-trace.zip"
    for stale in (failure_picture, failure_trace):  # an old run's failure is not this run's
        stale.unlink(missing_ok=True)
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(STEP_MS)
    context.tracing.start(screenshots=True, snapshots=True)
    tab = context.new_page()
    failed_before = request.session.testsfailed
    try:
        yield tab
    finally:
        if request.session.testsfailed > failed_before:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(Error):  # the tab may be what broke
                tab.screenshot(path=failure_picture, full_page=True)
                context.tracing.stop(path=failure_trace)
        else:
            context.tracing.stop()
        context.close()


@pytest.fixture
def watch(page: Page) -> PageWatch:
    return PageWatch.on(page)


def on_the_login_page(page: Page, user_id: str, *, marketer: bool) -> None:
    """The dev issuer's stand-in for managed login: the page sent the browser here with
    a PKCE challenge; continuing sends it back with a code the page redeems."""
    expect(page).to_have_url(re.compile(r"/dev/oauth2/authorize\?"))
    page.locator("#dev-user-id").fill(user_id)
    expect(page.locator("#dev-admin")).to_be_checked(checked=marketer)
    page.locator("#dev-sign-in").click()


def sign_in_as_staff(page: Page, site: str, user_id: str, role: str, brands: list[str]) -> None:
    """Signs in to the console as a brand manager or till of `brands`."""
    if page.url != f"{site}/admin":
        page.goto(f"{site}/admin")
    page.locator("#admin-sign-in").click()
    expect(page).to_have_url(re.compile(r"/dev/oauth2/authorize\?"))
    page.locator("#dev-user-id").fill(user_id)
    page.locator("#dev-admin").uncheck()
    page.locator("#dev-role").select_option(role)
    page.locator("#dev-brands").fill(",".join(brands))
    page.locator("#dev-sign-in").click()
    status_says(page, f"Signed in as {user_id}")


def sign_in_as_marketer(page: Page, site: str, user_id: str) -> None:
    page.goto(f"{site}/admin")
    page.locator("#admin-sign-in").click()
    on_the_login_page(page, user_id, marketer=True)
    status_says(page, f"Signed in as {user_id}")
    expect(page).to_have_url(f"{site}/admin")


def open_player_page(page: Page, url: str) -> None:
    """Open it and let its game list load, as a visitor would see it before signing in
    (a sign-in started sooner cuts the list's request short)."""
    page.goto(url)
    expect(page.locator("#games-message")).not_to_have_text(re.compile("Looking"))


def status_says(page: Page, words: str) -> None:
    """The admin page's status line reports success with `words` in it. An error there
    shows in the failure message as the text the line holds."""
    status = page.locator("#status-message")
    expect(status).to_contain_text(words)
    expect(status).to_have_attribute("data-kind", "ok")


def picture(name: str) -> Path:
    """Where the README's picture `name` goes (out/screenshots/, made on first use)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / name


def created_id(page: Page, selector: str, attribute: str) -> str:
    """The id a create request answered, once the page shows it."""
    created = page.locator(selector)
    expect(created).to_have_attribute(attribute, re.compile(r".+"))
    value = created.get_attribute(attribute)
    assert value
    return value


def test_a_missing_browser_fails_with_the_install_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(ENV_BINARY, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(AssertionError, match=r"looked for chromium.*apt-get install -y chromium"):
        find_chromium()

    monkeypatch.setenv(ENV_BINARY, str(tmp_path / "no-such-chromium"))
    with pytest.raises(AssertionError, match=rf"{ENV_BINARY}=.*is not an executable file"):
        find_chromium()


def test_frolic_chromium_names_the_browser_over_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    on_path = tmp_path / "bin"
    on_path.mkdir()
    for name in ("chromium", "my-chromium"):
        (on_path / name).write_text("#!/bin/sh\n")
        (on_path / name).chmod(0o755)
    monkeypatch.setenv("PATH", str(on_path))
    monkeypatch.delenv(ENV_BINARY, raising=False)
    assert find_chromium() == str(on_path / "chromium")
    monkeypatch.setenv(ENV_BINARY, "my-chromium")
    assert find_chromium() == str(on_path / "my-chromium")


def test_a_marketer_sets_up_a_live_game_in_the_admin_page(
    site: str,
    page: Page,
    watch: PageWatch,
    admin: LocalClient,
    tmp_path: Path,
) -> None:
    sign_in_as_marketer(page, site, "browser-marketer")

    page.locator("#campaign-name").fill("Browser spring")
    page.locator("#create-campaign").click()
    campaign_id = created_id(page, "#created-campaign", "data-campaign-id")
    expect(page.locator("#game-campaign")).to_have_value(campaign_id)

    page.locator("#game-name").fill("Browser noon spin")
    page.locator("#create-game").click()
    game_id = created_id(page, "#created-game", "data-game-id")

    page.locator("#brand-name").fill("Browser Bagels")
    page.locator("#create-brand").click()
    brand_id = created_id(page, "#created-brand", "data-brand-id")

    page.locator("#budget-amount").fill("3")
    page.locator("#set-budget").click()
    status_says(page, "is now 3")

    csv = tmp_path / "codes.csv"
    csv.write_text("code\nBAGEL-0001\nBAGEL-0002\nBAGEL-0003\n")
    page.locator("#coupon-file").set_input_files(csv)
    page.locator("#upload-coupons").click()
    upload = page.locator("#upload-result")
    expect(upload).to_have_attribute("data-added", "3")
    expect(upload).to_have_attribute("data-pool-size", "3")

    # The offer: a terms link that is not https is refused beside its field, then fixed
    page.locator("#offer-title").fill("A bagel on us")
    page.locator("#offer-value").fill("1 bagel")
    page.locator("#offer-terms").fill("http://bagels.example/terms")
    page.locator("#offer-until").fill("2031-06-30T18:00")
    page.locator("#set-offer").click()
    expect(page.locator("#offer-terms")).to_have_attribute("aria-invalid", "true")
    page.locator("#offer-terms").fill("https://bagels.example/terms")
    page.locator("#set-offer").click()
    status_says(page, "Offer for brand")
    expect(page.locator("#offer-terms")).not_to_have_attribute("aria-invalid", "true")
    page.locator("#offer-form").screenshot(path=picture("admin-offer.png"))
    held_offer = admin.call("GET", f"/admin/games/{game_id}/budgets/{brand_id}/offer")
    assert (held_offer["title"], held_offer["value"]) == ("A bagel on us", "1 bagel")
    assert held_offer["termsUrl"] == "https://bagels.example/terms"
    assert held_offer["validUntil"].startswith("2031-06-30T")  # the browser's own zone

    page.locator("#game-status").select_option("LIVE")
    page.locator("#set-status").click()
    status_says(page, f"Game {game_id} is now LIVE")

    page.locator("#show-report").click()
    report = page.locator("#report")
    expect(report).to_have_attribute("data-report-game", game_id)
    expect(report).to_have_attribute("data-state", "loaded")
    rows = page.locator("#brand-rows tr")
    expect(rows).to_have_count(1)
    expect(rows.first.locator(":scope > *")).to_have_text(
        [f"Browser Bagels ({brand_id})", "3", "0", "3", "3"]
    )
    expect(page.locator("#chart-summary")).to_have_text(re.compile(r"^Minute "))
    # One read of both: the summary moves on as the game runs and the report refreshes.
    summary, label = page.evaluate(
        "[document.querySelector('#chart-summary').innerText.trim(),"
        " document.querySelector('#pacing-chart').getAttribute('aria-label')]"
    )
    assert label == f"Pacing chart. {summary}"
    inked = page.locator("#pacing-chart").evaluate(
        "c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; }"
    )
    assert inked > 1000, f"the pacing chart drew only {inked} pixels"
    # The campaign list follows the status change with its own request.
    expect(page.locator(f"#campaign-list [data-game='{game_id}'] .badge")).to_have_text("LIVE")

    report.screenshot(path=picture("admin-report.png"))
    page.screenshot(path=picture("admin-console.png"), full_page=True)
    assert blocking_violations(page) == [], "the admin page, a game set up and its report shown"

    # What the page showed is what the API holds.
    assert admin.call("GET", f"/admin/games/{game_id}")["status"] == "LIVE"
    held = admin.call("GET", f"/admin/games/{game_id}/report")
    assert held["brands"] == [
        {
            "brandId": brand_id,
            "budget": 3,
            "issued": 0,
            "remaining": 3,
            "poolSize": 3,
            "counters": 1,
        }
    ]
    assert watch.errors == []
    # The refused offer, and nothing else
    offer_path = f"/admin/games/{game_id}/budgets/{brand_id}/offer"
    assert watch.network_errors == [f"PUT {site}{offer_path}: 400"]


def test_a_marketer_splits_a_hot_budget_over_counters_in_the_admin_page(
    site: str, page: Page, watch: PageWatch, admin: LocalClient
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
    sign_in_as_marketer(page, site, "hot-marketer")
    # When the marketer sets a budget of 40 over 4 counters
    page.locator("#budget-game").fill(game["gameId"])
    page.locator("#budget-brand").fill(brand["brandId"])
    page.locator("#budget-amount").fill("40")
    page.locator("#budget-counters").fill("4")
    page.locator("#set-budget").click()
    # Then the page says so, forgets the split for the next brand, and the API holds it
    status_says(page, "split over 4 counters")
    expect(page.locator("#budget-counters")).to_have_value("")
    budget_card = page.locator("section.card", has=page.locator("#budget-form"))
    budget_card.screenshot(path=picture("admin-budget.png"))
    report = admin.call("GET", f"/admin/games/{game['gameId']}/report")
    assert [(b["budget"], b["counters"]) for b in report["brands"]] == [(40, 4)]
    assert watch.errors == []


def test_a_visitor_finds_a_live_game_in_the_list_and_opens_it(
    site: str, page: Page, watch: PageWatch, anonymous: LocalClient
) -> None:
    # Given a live game with a named brand (a unique name: the shared stack has others)
    name = f"Listed {secrets.token_hex(3)}"
    game = create_demo_game(
        anonymous, minutes=5, budgets=(10,), brand_names=("List Bakery",), name=name
    )
    # When a visitor who has not signed in opens the player page: the list may be up to
    # LIST_SECONDS old (an earlier visit may have filled this function's cache), so the
    # page is opened again until the list has had time to catch up
    entry = page.locator("#games li", has_text=name)
    deadline = time.monotonic() + LIST_SECONDS + STEP_MS / 1000
    while True:
        open_player_page(page, f"{site}/")
        if entry.count() or time.monotonic() > deadline:
            break
    # Then the game is listed as live, with the brand to win, before any sign-in
    expect(entry).to_contain_text("Live now")
    expect(entry).to_contain_text("List Bakery")
    page.locator("#games").screenshot(path=picture("player-games.png"))
    assert blocking_violations(page) == [], "the player page before sign-in, games listed"
    # And choosing it fills in the game, puts it in the address bar to share, and marks it
    entry.get_by_role("link").click()
    expect(page.locator("#game-id")).to_have_value(game.game_id)
    expect(page).to_have_url(f"{site}/?game={game.game_id}")
    expect(entry.get_by_role("link")).to_have_attribute("aria-current", "true")
    expect(page.locator("#spin")).to_be_focused()
    assert watch.errors == []
    assert watch.network_errors == []


def test_a_player_signs_in_spins_and_wins_a_coupon(
    site: str,
    page: Page,
    watch: PageWatch,
    anonymous: LocalClient,
    stack: LocalStack,
) -> None:
    # A game under way, where the first play wins (see game_under_way)
    game = game_under_way(anonymous, "Browser spin", "Browser Bakery")
    # ... whose coupons come with an offer the winner is told of
    marketer = anonymous.as_user("Offer-Marketer", admin=True)
    offer = {
        "title": "A warm croissant",
        "value": "1 pastry",
        "termsUrl": "https://bakery.example/terms",
        "validUntil": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
    }
    marketer.call("PUT", f"/admin/games/{game.game_id}/budgets/{game.brand_ids[0]}/offer", offer)
    open_player_page(page, f"{site}/?game={game.game_id}")
    expect(page.locator("#game-id")).to_have_value(game.game_id)
    sockets_before = set(stack.connection_ids())
    page.locator("#sign-in").click()
    page.screenshot(path=picture("dev-login.png"))
    on_the_login_page(page, "Browser-Player", marketer=False)
    # Back on the page with its game, and no code left in the address bar
    expect(page).to_have_url(f"{site}/?game={game.game_id}")
    expect(page.locator("#game-id")).to_have_value(game.game_id)
    expect(page.locator("#connection-status")).to_have_attribute("data-state", "live")
    expect(page.locator("#signed-in-name")).to_have_text("Browser-Player")
    assert set(stack.connection_ids()) - sockets_before, (
        "the page is live, the gateway has no socket"
    )
    page.screenshot(path=picture("player-live.png"))

    spin = page.locator("#spin")
    spin.click()
    expect(spin).to_have_attribute("aria-disabled", "true")
    page.screenshot(path=picture("player-spinning.png"))
    result = page.locator("#result")
    expect(result).to_have_attribute("data-status", FINAL_STATUS, timeout=RESULT_MS)
    # The reels land with a short bounce: picture them once it is over.
    page.wait_for_function("document.getAnimations().every(a => a.animationName !== 'land')")
    page.screenshot(path=picture("player-result.png"), full_page=True)
    expect(result, "the first play should win").to_have_attribute("data-status", "won")

    code = page.locator("#coupon-code").inner_text().strip()
    assert code
    play_id = result.get_attribute("data-play-id")
    assert play_id
    reply = anonymous.as_user("Browser-Player").result(play_id)
    assert reply.status == 200, f"GET /plays/{play_id}: {reply.status} {reply.body!r}"
    view: dict[str, Any] = reply.json()
    assert view["status"] == "won"
    assert view["coupon"]["code"] == code
    assert view["coupon"]["brandId"] == game.brand_ids[0]
    expect(page.locator("#coupons li")).to_have_count(1)
    assert blocking_violations(page) == [], "the player page showing a win"
    # The win says what the coupon is worth, until when, and links its terms
    won_offer = result.locator(".coupon-offer")
    expect(won_offer.locator(".offer-title")).to_have_text("A warm croissant \u00b7 1 pastry")
    expect(won_offer.locator(".offer-until time")).to_have_attribute(
        "datetime", re.compile(r"^\d{4}-")
    )
    expect(won_offer.get_by_role("link", name="Terms")).to_have_attribute(
        "href", "https://bakery.example/terms"
    )
    assert view["coupon"]["offer"]["title"] == "A warm croissant"

    # The play went over the page's one socket, opened with a ticket, and was queued.
    assert [re.sub(r"ticket=[^&]+", "ticket=…", s.url) for s in watch.sockets] == [
        f"{site.replace('http', 'ws', 1)}/ws?ticket=…"
    ]
    sent = [json.loads(frame) for frame in watch.frames_sent]
    assert {"action": "play", "playId": play_id, "gameId": game.game_id} in sent
    received = [json.loads(frame) for frame in watch.frames_received]
    assert next(m["type"] for m in received if m.get("playId") == play_id) == "queued"

    # The code stays out of every URL the page opened and of the storage it keeps.
    assert code not in page.url
    assert watch.requested, "the page made no requests?"
    assert not [url for url in watch.requested if code in url]
    assert code not in page.evaluate("JSON.stringify(Object.entries(localStorage))")
    assert code not in page.evaluate("JSON.stringify(Object.entries(sessionStorage))")
    assert not [text for text in watch.console if code in text]
    assert watch.errors == []
    # A 404 while polling for a play not yet stored is the page's protocol; nothing else.
    assert [line for line in watch.network_errors if "/plays/" not in line] == []


def test_a_marketer_edits_a_games_whole_config_from_the_list(
    site: str, page: Page, watch: PageWatch, admin: LocalClient
) -> None:
    # Given a DRAFT game in a campaign
    now = datetime.now(UTC).replace(microsecond=0)
    window = {
        "startTime": (now + timedelta(hours=1)).isoformat(),
        "endTime": (now + timedelta(hours=2)).isoformat(),
    }
    campaign = admin.call(
        "POST",
        "/admin/campaigns",
        {
            "name": "Edit camp",
            "startTime": now.isoformat(),
            "endTime": (now + timedelta(days=1)).isoformat(),
        },
    )
    game = admin.call(
        "POST",
        f"/admin/campaigns/{campaign['campaignId']}/games",
        {"name": f"Edit me {secrets.token_hex(2)}", **window},
    )
    game_id = game["gameId"]
    # When the marketer presses Edit beside it in the list (no id typed)
    sign_in_as_marketer(page, site, "edit-marketer")
    row = page.locator(f"#campaign-list [data-game='{game_id}']")
    row.get_by_role("button", name=re.compile("^Edit ")).click()
    expect(page.locator("#edit-form")).to_be_visible()
    expect(page.locator("#edit-game")).to_have_value(game_id)
    expect(page.locator("#edit-max-wins")).to_have_value("1")
    # ... and sends a curve the API refuses, the refusal shows beside the curve
    page.locator("#edit-name").fill("Edited noon spin")
    page.locator("#edit-curve").fill("0, 0")
    page.locator("#edit-max-wins").fill("3")
    page.locator("#edit-max-coupons").fill("2")
    page.locator("#edit-min-gap").fill("5")
    page.locator("#edit-slack").fill("2.5")
    page.locator("#save-game").click()
    expect(page.locator("#edit-curve")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#status-message")).to_contain_text("releaseCurve")
    # Then fixed, every field is saved
    page.locator("#edit-curve").fill("3, 1")
    page.locator("#save-game").click()
    status_says(page, "Saved")
    held = admin.call("GET", f"/admin/games/{game_id}")
    assert held["name"] == "Edited noon spin"
    assert held["config"] == {
        "releaseCurve": [3.0, 1.0],
        "maxCouponsPerPlay": 2,
        "maxWinsPerUser": 3,
        "minSecondsBetweenPlays": 5.0,
        "pacingSlackPct": 2.5,
    }
    page.locator("#edit-form").locator("xpath=..").screenshot(path=picture("admin-edit.png"))
    assert blocking_violations(page) == [], "the admin page editing a game"
    # And once LIVE, only the name can change: the rest is locked in the form
    row.get_by_role(
        "button", name=re.compile("^Make live|^Go live|LIVE", re.IGNORECASE)
    ).first.click()
    expect(row.locator(".badge")).to_have_text("LIVE")
    row.get_by_role("button", name=re.compile("^Edit ")).click()
    expect(page.locator("#edit-locked")).to_be_visible()
    expect(page.locator("#edit-max-wins")).to_be_disabled()
    page.locator("#edit-name").fill("Live noon spin")
    page.locator("#save-game").click()
    status_says(page, "Saved")
    assert admin.call("GET", f"/admin/games/{game_id}")["name"] == "Live noon spin"
    assert watch.errors == []
    assert watch.network_errors == [f"PATCH {site}/admin/games/{game_id}: 400"]


def test_a_till_redeems_a_won_coupon_once_in_the_admin_page(
    site: str, page: Page, watch: PageWatch, anonymous: LocalClient
) -> None:
    # Given a coupon a player won and deliver issued
    game = game_under_way(anonymous, "Till spin", "Till Tacos")
    player = anonymous.as_user("Till-Player")
    play_id = f"till-{secrets.token_hex(4)}"
    assert player.play(play_id, game.game_id).status == 202
    code = final_result(player, play_id)["coupon"]["code"]

    wait_until_issued(player, [code])
    # When a till of the coupon's brand signs in, it sees the till and nothing else
    sign_in_as_staff(page, site, "till-clerk", "till", list(game.brand_ids))
    expect(page.locator("#till-form")).to_be_visible()
    for hidden in ("#campaign-form", "#budget-form", "#campaign-list", "#report-form"):
        expect(page.locator(hidden)).to_be_hidden()
    # And it enters the code, and then the same code again
    page.locator("#till-code").fill(code)
    page.locator("#redeem").click()
    outcome = page.locator("#till-result")
    expect(outcome).to_have_attribute("data-outcome", "redeemed")
    expect(outcome).to_contain_text("Till Tacos")
    expect(page.locator("#till-code")).to_have_value("")
    page.locator("#till-code").fill(code)
    page.locator("#redeem").click()
    # Then it is taken once, and the second time refused in plain words
    expect(outcome).to_have_attribute("data-outcome", "refused")
    expect(outcome).to_contain_text("already been redeemed")
    page.locator("#till-form").locator("xpath=..").screenshot(path=picture("admin-till.png"))
    coupons = player.call("GET", "/me/coupons")["coupons"]
    assert [c["status"] for c in coupons if c["code"] == code] == ["redeemed"]
    # And another brand's till is told only that there is no such coupon
    page.locator("#admin-sign-out").click()
    expect(page).to_have_url(f"{site}/admin")  # back from the issuer's logout, signed out
    expect(page.locator("#admin-sign-in")).to_be_visible()
    sign_in_as_staff(page, site, "other-till", "till", ["another-brand"])
    page.locator("#till-code").fill(code)
    page.locator("#redeem").click()
    expect(outcome).to_have_attribute("data-outcome", "refused")
    expect(outcome).to_contain_text("no coupon has this code")
    assert watch.errors == []
    redeem = f"POST {site}/admin/coupons/{quote(code, safe='')}/redeem"
    assert watch.network_errors == [f"{redeem}: 409", f"{redeem}: 404"]


def test_a_marketer_finds_a_games_budgets_in_the_list_and_changes_one_with_no_id_typed(
    site: str, page: Page, watch: PageWatch, anonymous: LocalClient
) -> None:
    # Given a live game with one brand's budget and pool
    game = game_under_way(anonymous, "Listed spin", "Listed Lattes")
    (brand,) = game.brand_ids
    # When the marketer opens the game's budgets from the list and uses the brand's line
    sign_in_as_marketer(page, site, "budget-lister")
    row = page.locator(f'li.game[data-game="{game.game_id}"]')
    row.get_by_role("button", name="Budgets and pools of Listed spin").click()
    line = row.locator(f'.budgets li[data-brand="{brand}"]')
    expect(line).to_contain_text("Listed Lattes")
    expect(line).to_contain_text("budget 60")
    line.get_by_role("button").click()
    # Then the budget form holds the game and brand, and a new budget needs no id typed
    expect(page.locator("#budget-game")).to_have_value(game.game_id)
    expect(page.locator("#budget-brand")).to_have_value(brand)
    page.locator("#budget-amount").fill("80")
    page.locator("#set-budget").click()
    status_says(page, "80")
    admin = anonymous.as_user("Budget-Admin", admin=True)
    lines = admin.call("GET", f"/admin/games/{game.game_id}/budgets")["items"]
    assert [(b["brandId"], b["budget"]) for b in lines] == [(brand, 80)]
    row.screenshot(path=picture("admin-budgets.png"))
    assert watch.errors == []
    assert watch.network_errors == []


def test_a_brand_manager_sees_their_brands_blocks_and_nothing_of_other_brands(
    site: str, page: Page, watch: PageWatch, anonymous: LocalClient
) -> None:
    # Given a game with a brand the manager runs, beside another brand
    game = game_under_way(anonymous, "Managed spin", "Managed Muffins")
    admin = anonymous.as_user("Brand-Admin", admin=True)
    admin.call("POST", "/admin/brands", {"name": "Someone Else"})
    # When its manager signs in to the console
    sign_in_as_staff(page, site, "muffin-manager", "brand-manager", list(game.brand_ids))
    # Then the budget, list and report blocks show, and no campaign, game or till forms
    for shown in ("#budget-form", "#campaign-list", "#report-form"):
        expect(page.locator(shown)).to_be_visible()
    for hidden in ("#campaign-form", "#brand-form", "#game-form", "#till-form"):
        expect(page.locator(hidden)).to_be_hidden()
    # ... the brand list holds their brand alone, and their game has no Edit button
    expect(page.locator("#brand-list li")).to_have_count(1)
    expect(page.locator("#brand-list")).to_contain_text("Managed Muffins")
    row = page.locator(f'li.game[data-game="{game.game_id}"]')
    expect(row.get_by_role("button", name="Report")).to_be_visible()
    expect(row.get_by_role("button", name=re.compile("^Edit"))).to_have_count(0)
    # ... and the report shows their brand's line
    row.get_by_role("button", name="Report").click()
    expect(page.locator("#brand-rows tr")).to_have_count(1)
    expect(page.locator("#brand-rows")).to_contain_text("Managed Muffins")
    assert watch.errors == []
    assert watch.network_errors == []


def test_a_marketer_downloads_a_games_winners_from_its_report(
    site: str, page: Page, watch: PageWatch, anonymous: LocalClient
) -> None:
    # Given a coupon a player won and deliver issued
    game = game_under_way(anonymous, "Export page spin", "Export Eats")
    player = anonymous.as_user("Export-Page-Player")
    play_id = f"export-{secrets.token_hex(4)}"
    assert player.play(play_id, game.game_id).status == 202
    code = final_result(player, play_id)["coupon"]["code"]
    wait_until_issued(player, [code])
    # When the marketer opens the game's report from the list and exports its winners
    sign_in_as_marketer(page, site, "export-marketer")
    page.locator(f'li.game[data-game="{game.game_id}"]').get_by_role(
        "button", name="Report"
    ).click()
    expect(page.locator("#report")).to_have_attribute("data-state", "loaded")
    page.locator("#export-winners").click()
    link = page.locator('#export-list li[data-kind="winners"][data-status="done"] a')
    expect(link).to_have_count(1, timeout=RESULT_MS)
    with page.expect_download() as downloading:
        link.click()
    download = downloading.value
    # Then the browser saves a CSV file holding the player's win
    assert download.suggested_filename.startswith(f"frolic-{game.game_id}-winners-")
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text())))
    assert [(r["playId"], r["playerId"], r["code"]) for r in rows] == [
        (play_id, "Export-Page-Player", code)
    ]
    page.locator("#exports").screenshot(path=picture("admin-exports.png"))
    assert watch.errors == []
    assert watch.network_errors == []


def test_a_player_spins_by_keyboard_alone_and_hears_the_result_without_motion(
    site: str, browser: Browser, anonymous: LocalClient
) -> None:
    # Given a player who prefers reduced motion, signed in on a live game's link
    game = game_under_way(anonymous, "Keyboard spin", "Keyboard Kitchen")
    context = browser.new_context(viewport=VIEWPORT, reduced_motion="reduce")
    context.set_default_timeout(STEP_MS)
    try:
        page = context.new_page()
        open_player_page(page, f"{site}/?game={game.game_id}")
        page.locator("#sign-in").focus()
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(r"/dev/oauth2/authorize\?"))
        page.locator("#dev-user-id").focus()
        page.keyboard.type("Keyboard-Player")
        page.keyboard.press("Enter")
        expect(page.locator("#connection-status")).to_have_attribute("data-state", "live")
        # When they Tab to SPIN from the top of the page and press Space
        page.locator("body").focus()
        for _ in range(40):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.id") == "spin":
                break
        expect(page.locator("#spin")).to_be_focused()
        strip = page.locator(".reel .strip").first
        page.keyboard.press("Space")
        expect(page.locator("#spin")).to_have_attribute("aria-disabled", "true")
        before = strip.evaluate("s => getComputedStyle(s).transform")
        # Then the reels stay still while a countdown runs instead ...
        expect(page.locator("#spin-countdown")).to_have_text(re.compile(r"^[1-8] s$"))
        assert strip.evaluate("s => getComputedStyle(s).transform") == before
        # ... and the result is announced in a polite live region
        result = page.locator("#result")
        expect(result).to_have_attribute("data-status", FINAL_STATUS, timeout=RESULT_MS)
        assert (result.get_attribute("role"), result.get_attribute("aria-live")) == (
            "status",
            "polite",
        )
        expect(result).to_contain_text(re.compile(r"\w"))
    finally:
        context.close()


def test_a_player_finds_their_coupons_in_the_wallet_on_another_device(
    site: str, browser: Browser, page: Page, watch: PageWatch, anonymous: LocalClient
) -> None:
    # Given a player who won a coupon (over the API, as a phone would) that a till has
    # since redeemed, and won another
    game = game_under_way(
        anonymous,
        "Wallet spin",
        "Wallet Waffles",
        config={"maxWinsPerUser": 5, "minSecondsBetweenPlays": 0},
    )
    player = anonymous.as_user("Wallet-Player")
    codes = []
    for play_id in (f"wallet-{secrets.token_hex(4)}", f"wallet-{secrets.token_hex(4)}"):
        assert player.play(play_id, game.game_id).status == 202
        result = final_result(player, play_id)
        assert result["status"] == "won", result
        codes.append(result["coupon"]["code"])

    wait_until_issued(player, codes)
    till = anonymous.as_user("Wallet-Till", admin=True)
    till.call("POST", f"/admin/coupons/{quote(codes[0], safe='')}/redeem")
    # When they sign in on this page, a browser that never saw those plays
    open_player_page(page, f"{site}/")
    page.locator("#sign-in").click()
    on_the_login_page(page, "Wallet-Player", marketer=False)
    # Then both coupons are listed, the newest first, the redeemed one marked so
    listed = page.locator("#coupons .coupon-code")
    expect(listed).to_have_text(list(reversed(codes)))
    redeemed = page.locator("#coupons .coupon").nth(1)
    expect(redeemed).to_have_attribute("data-status", "redeemed")
    expect(redeemed.locator(".coupon-status")).to_contain_text("Redeemed")
    expect(page.locator("#coupons .coupon").first).to_have_attribute("data-status", "issued")
    page.locator("#coupons-section").screenshot(path=picture("player-wallet.png"))
    # And after a reload they are still there, once each
    page.reload()
    expect(listed).to_have_text(list(reversed(codes)))
    assert watch.errors == []


def test_a_player_session_refreshes_its_token_and_signs_out_at_the_issuer(
    site: str, page: Page
) -> None:
    # Given a player signed in through the login page
    open_player_page(page, f"{site}/")
    page.locator("#sign-in").click()
    on_the_login_page(page, "Refresh-Player", marketer=False)
    expect(page.locator("#signed-in-name")).to_have_text("Refresh-Player")
    kept = page.evaluate("JSON.parse(sessionStorage.getItem('frolic.player.session'))")
    assert kept["refreshToken"]

    # When its ID token is about to end and the page looks at it again
    page.evaluate(
        """() => {
          const key = 'frolic.player.session';
          const session = JSON.parse(sessionStorage.getItem(key));
          session.expiresAt = Date.now() - 1;
          sessionStorage.setItem(key, JSON.stringify(session));
          document.dispatchEvent(new Event('visibilitychange'));
        }"""
    )
    # Then the refresh token bought a fresh ID token, for hours
    page.wait_for_function(
        """() => {
          const session = JSON.parse(sessionStorage.getItem('frolic.player.session'));
          return session && session.expiresAt > Date.now() + 3600 * 1000;
        }"""
    )
    expect(page.locator("#signed-in-name")).to_have_text("Refresh-Player")

    # When the player signs out
    page.locator("#sign-out").click()
    # Then the issuer's logout sends the page back signed out, and the refresh token
    # it held is revoked
    expect(page).to_have_url(f"{site}/")
    expect(page.locator("#sign-in")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('frolic.player.session')") is None
    refused = page.request.post(
        f"{site}/dev/oauth2/token",
        form={
            "grant_type": "refresh_token",
            "client_id": "frolic-local",
            "refresh_token": kept["refreshToken"],
        },
    )
    assert refused.status == 400
    assert refused.json()["error"] == "invalid_grant"
