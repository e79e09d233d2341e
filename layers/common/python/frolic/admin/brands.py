"""Brand routes: the companies whose coupons games hand out."""

from aws_lambda_powertools.event_handler.api_gateway import Router

from frolic.admin import BrandIdPath, caller, new_router, responses
from frolic.auth import in_scope
from frolic.dal.catalog import Catalog
from frolic.models import BoundaryModel, Brand, Name

TAGS = ["brands"]


class BrandIn(BoundaryModel):
    name: Name


class BrandList(BoundaryModel):
    items: list[Brand]


def router(catalog: Catalog) -> Router:
    routes = new_router()

    @routes.post(
        "/admin/brands",
        status_code=201,
        summary="Create a brand",
        operation_id="createBrand",
        tags=TAGS,
        responses=responses(201, "The new brand, with its generated brandId", 409, 415),
    )
    def create_brand(body: BrandIn) -> Brand:
        return catalog.create_brand(body.name)

    @routes.get(
        "/admin/brands",
        summary="List brands",
        operation_id="listBrands",
        tags=TAGS,
        responses=responses(200, "Every brand, by name (brand staff: their own brands)"),
    )
    def list_brands() -> BrandList:
        shown = caller(routes).known_brands()
        brands = catalog.list_brands()
        return BrandList(items=[b for b in brands if in_scope(shown, b.brand_id)])

    @routes.get(
        "/admin/brands/<brandId>",
        summary="Read a brand",
        operation_id="getBrand",
        tags=TAGS,
        responses=responses(200, "The brand", 404),
    )
    def get_brand(brand_id: BrandIdPath) -> Brand:
        return catalog.get_brand(brand_id)

    return routes
