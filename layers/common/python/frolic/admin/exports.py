"""Export routes: a game's winners or audit trail as a CSV file, written in the
background (frolic.exports) and fetched by a short-lived link."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Protocol

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path
from pydantic import Field

from frolic.admin import GameIdPath, caller, new_router, responses
from frolic.dal.catalog import NotFoundError
from frolic.dal.exports import ExportJob
from frolic.exports import ExportRequest, ExportStatus, object_key
from frolic.models import BoundaryModel, Identifier
from frolic.observability import logger

if TYPE_CHECKING:
    from frolic.dal.catalog import Catalog
    from frolic.dal.exports import ExportFiles, ExportJobs

TAGS = ["exports"]

ExportIdPath = Annotated[Identifier, Path(alias="exportId", description="An export's id")]


class ExportList(BoundaryModel):
    items: list[ExportJob] = Field(description="The game's newest exports first")


class Starter(Protocol):
    """Sets a job's file being written (`frolic.dal.exports.ExportStarter` in AWS)."""

    def start(self, game_id: str, export_id: str) -> None: ...


@dataclass(frozen=True)
class ExportDesk:
    """What the routes need: the job items, the function that writes a file, the files."""

    jobs: ExportJobs
    starter: Starter
    files: ExportFiles

    def with_link(self, job: ExportJob) -> ExportJob:
        if job.status is not ExportStatus.DONE:
            return job
        url = self.files.link(object_key(job.game_id, job.export_id, job.kind), job.file_name)
        return job.model_copy(update={"download_url": url})


def router(catalog: Catalog, desk: ExportDesk) -> Router:
    routes = new_router()

    @routes.post(
        "/admin/games/<gameId>/exports",
        status_code=202,
        summary="Start an export of a game's winners or audit trail",
        description=(
            "`winners`: one row per coupon issued to a player (play, player, brand, code, "
            "status, issued and redeemed times). `audit`: one row per coupon the game's "
            "budgets leased, whatever became of it, with every time and who redeemed it. "
            "The file is written in the background: read the export until its status is "
            "`done`, then fetch `downloadUrl` (valid for 15 minutes; read the export again "
            "for a fresh one). Files are kept for 7 days. A brand manager's export covers "
            "their brands alone (`brands`)."
        ),
        operation_id="startExport",
        tags=TAGS,
        responses=responses(202, "The export, running", 404, 415),
    )
    def start_export(game_id: GameIdPath, body: ExportRequest) -> ExportJob:
        catalog.get_game(game_id)
        principal = caller(routes)
        job = desk.jobs.create(game_id, body.kind, principal.user_id, principal.managed())
        desk.starter.start(game_id, job.export_id)
        logger.info("export started", game_id=game_id, kind=body.kind.value)
        return job

    @routes.get(
        "/admin/games/<gameId>/exports",
        summary="List a game's recent exports",
        operation_id="listExports",
        tags=TAGS,
        responses=responses(
            200,
            "Up to 20 exports, newest first, with links to those done (a brand manager's: "
            "those of their brands)",
        ),
    )
    def list_exports(game_id: GameIdPath) -> ExportList:
        shown = caller(routes).managed()
        jobs = desk.jobs.recent(game_id)
        return ExportList(items=[desk.with_link(job) for job in jobs if job.shown_to(shown)])

    @routes.get(
        "/admin/games/<gameId>/exports/<exportId>",
        summary="Read an export: its status, and once done its rows and a download link",
        operation_id="getExport",
        tags=TAGS,
        responses=responses(200, "The export", 404),
    )
    def get_export(game_id: GameIdPath, export_id: ExportIdPath) -> ExportJob:
        job = desk.jobs.get(game_id, export_id)
        if job is None or not job.shown_to(caller(routes).managed()):
            raise NotFoundError("no such export of this game")
        return desk.with_link(job)

    return routes
