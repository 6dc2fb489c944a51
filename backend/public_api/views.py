"""Public query of enterprises' public credit records: /api/v1/subjects (no login, rate-limited)."""

from __future__ import annotations

from apiflask import APIBlueprint, fields
from flask import current_app, jsonify

from ..errors import ApiError, ErrorSchema, NotFound
from ..extensions import public_query_limit
from ..identifiers import IdentifierError, validate_uscc
from ..subjects.queries import get_public_profile, search_enterprises
from ..subjects.schemas import PublicProfileSchema, SearchPageSchema, SearchQuerySchema, public_profile_dict
from ..types import local_date
from . import messages

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
    text = query["q"].strip()
    if not text:
        raise ApiError(messages.EMPTY_QUERY, code="empty_query")
    settings = current_app.extensions["settings"]
    return search_enterprises(text, page=query["page"], per_page=query["per_page"] or settings.SEARCH_PAGE_SIZE)


@bp.get("/subjects/<uscc>")
@public_query_limit
@bp.output(PublicProfileSchema)
@bp.doc(
    summary=messages.PROFILE_SUMMARY,
    description=messages.PROFILE_DESCRIPTION,
    responses=_error_responses(400, 404, 429),
)
def get_subject(uscc: str):
    settings = current_app.extensions["settings"]
    try:
        code = validate_uscc(uscc, settings.USCC_LEGACY_ALLOWLIST).code
    except IdentifierError as exc:
        raise ApiError(exc.message, code="invalid_uscc", details=exc.as_details()) from exc
    profile = get_public_profile(code, local_date())
    if profile is None:
        raise NotFound(messages.SUBJECT_NOT_FOUND)
    return jsonify(public_profile_dict(profile))  # = PublicProfileSchema's dump, without its cost
