"""The public query of enterprises (/api/v1/subjects), as every channel that offers it answers:
the public API and the mini-program's /api/mp/v1/subjects call these, so the query, its limits,
its fast profile serialisation and its error codes are one."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, jsonify

from ..errors import ApiError, NotFound
from ..identifiers import IdentifierError, validate_uscc
from ..subjects.queries import get_public_profile, search_enterprises
from ..subjects.schemas import public_profile_dict
from ..types import local_date
from . import messages


def search(query: dict[str, Any]) -> Any:
    """One page of enterprises matching ``q`` (SearchQuerySchema's fields); 400 empty_query."""
    text = query["q"].strip()
    if not text:
        raise ApiError(messages.EMPTY_QUERY, code="empty_query")
    settings = current_app.extensions["settings"]
    return search_enterprises(text, page=query["page"], per_page=query["per_page"] or settings.SEARCH_PAGE_SIZE)


def profile_response(uscc: str) -> Response:
    """An enterprise's public profile as JSON; 400 invalid_uscc (naming the wrong character),
    404 not_found (no such enterprise, or nothing public)."""
    settings = current_app.extensions["settings"]
    try:
        code = validate_uscc(uscc, settings.USCC_LEGACY_ALLOWLIST).code
    except IdentifierError as exc:
        raise ApiError(exc.message, code="invalid_uscc", details=exc.as_details()) from exc
    profile = get_public_profile(code, local_date())
    if profile is None:
        raise NotFound(messages.SUBJECT_NOT_FOUND)
    return jsonify(public_profile_dict(profile))  # = PublicProfileSchema's dump, without its cost
