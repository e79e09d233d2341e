"""Campaign routes: a campaign is the window its games must fit in."""

from aws_lambda_powertools.event_handler.api_gateway import Router
from pydantic import AwareDatetime

from frolic.admin import CampaignIdPath, EndTime, new_router, responses
from frolic.dal.catalog import CampaignChanges, Catalog
from frolic.models import BoundaryModel, Campaign, Name

TAGS = ["campaigns"]


class CampaignIn(BoundaryModel):
    name: Name
    start_time: AwareDatetime
    end_time: EndTime


class CampaignPatch(BoundaryModel):
    """Only the fields sent change; a window edit must still hold every game."""

    name: Name | None = None
    start_time: AwareDatetime | None = None
    end_time: EndTime | None = None


class CampaignList(BoundaryModel):
    items: list[Campaign]


def router(catalog: Catalog) -> Router:
    routes = new_router()

    @routes.post(
        "/admin/campaigns",
        status_code=201,
        summary="Create a campaign",
        operation_id="createCampaign",
        tags=TAGS,
        responses=responses(201, "The new campaign, with its generated campaignId", 409, 415),
    )
    def create_campaign(body: CampaignIn) -> Campaign:
        return catalog.create_campaign(body.name, body.start_time, body.end_time)

    @routes.get(
        "/admin/campaigns",
        summary="List campaigns",
        operation_id="listCampaigns",
        tags=TAGS,
        responses=responses(200, "Every campaign, by start time"),
    )
    def list_campaigns() -> CampaignList:
        return CampaignList(items=catalog.list_campaigns())

    @routes.get(
        "/admin/campaigns/<campaignId>",
        summary="Read a campaign",
        operation_id="getCampaign",
        tags=TAGS,
        responses=responses(200, "The campaign", 404),
    )
    def get_campaign(campaign_id: CampaignIdPath) -> Campaign:
        return catalog.get_campaign(campaign_id)

    @routes.patch(
        "/admin/campaigns/<campaignId>",
        summary="Rename a campaign or move its window",
        operation_id="updateCampaign",
        tags=TAGS,
        responses=responses(200, "The campaign as changed", 404, 409, 415),
    )
    def update_campaign(campaign_id: CampaignIdPath, body: CampaignPatch) -> Campaign:
        changes = CampaignChanges(
            name=body.name, start_time=body.start_time, end_time=body.end_time
        )
        return catalog.update_campaign(campaign_id, changes)

    return routes
