"""`frolic crowd`: simulated players spinning one game over the real API.

Why a crowd and not a loop of requests: Frolic's promises (every player answered before
the reel stops, one result per play, paced coupons) are about many players at once, on
two channels, under a rush. So each simulated player is what a phone would be: a token,
a WebSocket ticket and an open socket (or, for the REST share, `POST /plays` and polling
`GET /plays/{playId}`), playing again only after its previous result and the game's
one-play-per-interval rule, and sometimes resending a play the way a flaky client does.

Plays arrive as a Poisson process (faster during an opening rush), each given to an idle
player. An arrival that finds no idle player is counted, never dropped quietly; so is a
play that gets no final result within reel + grace + margin (20 s). The figures go to
`frolic_tools.crowd.report.CrowdReport`.

One event loop, in a thread of its own, plays the whole crowd (`Crowd`'s methods stay
blocking). A WebSocket player is a task reading its socket (websockets' asyncio client:
results are pushed to it); each REST play is a task that sends and polls over one
shared aiohttp session; the scheduler draws the arrivals and sends socket plays, resends
and deadlines as tasks and timers beside them. A progress task and an admin-report
sampler run only while a schedule runs. An idle player costs a token and, on the
WebSocket share, an open socket and a waiting task: no thread, so `--players` in the
tens of thousands is a matter of file descriptors. A player has at most one play in
flight.

`run_demo` is `make demo`: a local stack, a campaign made over the admin API, a crowd
for the game's whole window, the report, and `reconcile` on the tables.

Where each part lives:

- `common`: the constants, `CrowdError`, `Schedule`, `GameInfo`, `Progress`, the state of
  a run and the small readers of replies and arguments (`read_tokens`, `check_api_url`);
- `state`: what the scheduler and the players' tasks share on the loop;
- `players`: what happens to a player's plays, over its socket or over REST;
- `scheduler`: the arrivals, the socket sends, resends and deadlines of one run;
- `watch`: the progress snapshots, the admin-report sampler, the check of resent plays;
- `api`: the calls besides plays (dev tokens, the game, tickets and sockets, the admin
  report); `rest`: the players' async HTTP client;
- `loop`: the event loop's thread; `run`: `Crowd`, which opens the players and runs
  schedules on them;
- `report`: `CrowdReport`, the figures and charts; `demo`: `run_demo` and its pieces.
"""

from frolic_tools.crowd.common import (
    DEFAULT_PLAY_INTERVAL,
    DUPLICATE_SHARE,
    GRACE_SECONDS,
    MARGIN_SECONDS,
    REEL_SECONDS,
    RESULT_TIMEOUT_SECONDS,
    CrowdError,
    GameInfo,
    Progress,
    Schedule,
    check_api_url,
    default_ws_url,
    read_tokens,
)
from frolic_tools.crowd.demo import (
    DEMO_BRANDS,
    DEMO_MAX_WINS_PER_USER,
    DEMO_MINUTES,
    DEMO_RATE,
    DEMO_RUSH,
    PLAYERS_PER_PEAK_RATE,
    DemoOutcome,
    ProgressPrinter,
    create_campaign,
    demo_rate,
    overload_reason,
    run_demo,
    write_charts,
)
from frolic_tools.crowd.run import Crowd
from frolic_tools.local.demo import DemoGame

__all__ = [
    "DEFAULT_PLAY_INTERVAL",
    "DEMO_BRANDS",
    "DEMO_MAX_WINS_PER_USER",
    "DEMO_MINUTES",
    "DEMO_RATE",
    "DEMO_RUSH",
    "DUPLICATE_SHARE",
    "GRACE_SECONDS",
    "MARGIN_SECONDS",
    "PLAYERS_PER_PEAK_RATE",
    "REEL_SECONDS",
    "RESULT_TIMEOUT_SECONDS",
    "Crowd",
    "CrowdError",
    "DemoGame",
    "DemoOutcome",
    "GameInfo",
    "Progress",
    "ProgressPrinter",
    "Schedule",
    "check_api_url",
    "create_campaign",
    "default_ws_url",
    "demo_rate",
    "overload_reason",
    "read_tokens",
    "run_demo",
    "write_charts",
]
