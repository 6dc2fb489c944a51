"""Public query of enterprises' public credit records: /api/v1/subjects (no login, rate-limited)."""

from __future__ import annotations

from apiflask import APIBlueprint, fields

from ..errors import ErrorSchema
from ..extensions import public_query_limit
from ..subjects.schemas import PublicProfileSchema, SearchPageSchema, SearchQuerySchema
from . import messages, queries

bp = APIBlueprint("public_api", __name__, url_prefix="/api/v1", tag=messages.TAG)


def _error_responses(*statuses: int) -> dict[int, dict]:
    responses: dict[int, dict] = {}
    for status in statuses:
        response: dict = {
            "description": messages.ERROR_DESCRIPTIONS[status],
            "content": {"application/json": {"schema": ErrorSchema}},
        }
        if status == 429:
            response["headers"] = {"Retry-After": fields.Integer(metadata={"description": "多少秒后可以重试"})}
        responses[status] = response
    return responses


@bp.get("/subjects")
@public_query_limit
@bp.input(SearchQuerySchema, location="query", arg_name="query")
@bp.output(SearchPageSchema)
@bp.doc(
    summary=messages.SEARCH_SUMMARY,
    description=messages.SEARCH_DESCRIPTION,
    responses=_error_responses(400, 422, 429),
)
def search_subjects(query: dict):
    return queries.search(query)


@bp.get("/subjects/<uscc>")
@public_query_limit
@bp.output(PublicProfileSchema)
@bp.doc(
    summary=messages.PROFILE_SUMMARY,
    description=messages.PROFILE_DESCRIPTION,
    responses=_error_responses(400, 404, 429),
)
def get_subject(uscc: str):
    return queries.profile_response(uscc)
