"""Report route: how a game is going against its release schedule."""

from aws_lambda_powertools.event_handler.api_gateway import Router

from frolic.admin import GameIdPath, caller, new_router, responses
from frolic.dal.catalog import Catalog
from frolic.dal.reports import BrandReport, GameReport, GameReports
from frolic.models import BoundaryModel

TAGS = ["reports"]


class BudgetList(BoundaryModel):
    items: list[BrandReport]


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

    @routes.get(
        "/admin/games/<gameId>/budgets",
        summary="List a game's budgets and coupon pools by brand",
        description=(
            "Each brand's budget, coupons issued and remaining, pool size and counters, "
            "from one read of the budget items: the console lists them under each game. "
            "A brand manager sees their brands alone."
        ),
        operation_id="listBudgets",
        tags=["budgets"],
        responses=responses(200, "The game's budgets, by brand id", 404),
    )
    def list_budgets(game_id: GameIdPath) -> BudgetList:
        catalog.get_game(game_id)
        return BudgetList(items=reports.budget_lines(game_id, caller(routes).managed()))

    return routes
