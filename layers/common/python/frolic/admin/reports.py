"""Report route: how a game is going against its release schedule."""

from aws_lambda_powertools.event_handler.api_gateway import Router

from frolic.admin import GameIdPath, caller, new_router, responses
from frolic.dal.catalog import Catalog
from frolic.dal.reports import GameReport, GameReports

TAGS = ["reports"]


def router(catalog: Catalog, reports: GameReports) -> Router:
    routes = new_router()

    @routes.get(
        "/admin/games/<gameId>/report",
        summary="A game's plays, wins, budgets and minute-by-minute curve",
        description=(
            "`wins` and `brands` come from the budget counters (authoritative). `curve` has "
            "one point per minute from the game's start: plays counted in that minute, "
            "coupons issued by its end (sum over brands), and coupons the release schedule "
            "allows by its end (total budget times the curve's share). A brand manager sees "
            "their brands alone: their lines, and wins and curve summed over them."
        ),
        operation_id="getGameReport",
        tags=TAGS,
        responses=responses(200, "The report", 404),
    )
    def game_report(game_id: GameIdPath) -> GameReport:
        return reports.report(catalog.get_game(game_id), brands=caller(routes).managed())

    return routes
