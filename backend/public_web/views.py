"""Public web pages: the home page, enterprise search and the public profile (HTML).

The same queries as the JSON API (/api/v1/subjects), rendered for a browser; the same rate-limit
budget (one per client, shared with the API and the mini-program's query).
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request

from ..extensions import public_query_limit
from ..identifiers import IdentifierError, validate_uscc
from ..records.labels import CATEGORY_LABELS, TIER_LABELS, UNDER_OBJECTION_MARK
from ..subjects.queries import get_public_profile, search_enterprises
from ..types import local_date

bp = Blueprint("public_web", __name__, template_folder="templates")


@bp.get("/")
def home():
    return render_template("public/home.html")


@bp.get("/search")
@public_query_limit
def search():
    q = request.args.get("q", "").strip()[:60]
    try:
        page = max(1, min(100, int(request.args.get("page", "1"))))
    except ValueError:
        page = 1
    result = search_enterprises(q, page=page, per_page=20) if q else None
    return render_template("public/search.html", q=q, result=result, page=page)


@bp.get("/subjects/<code>")
@public_query_limit
def profile(code: str):
    try:
        uscc = validate_uscc(code, current_app.extensions["settings"].USCC_LEGACY_ALLOWLIST).code
    except IdentifierError as exc:
        return render_template("public/error.html", message=exc.message), 400
    found = get_public_profile(uscc, local_date())
    if found is None:
        abort(404)
    return render_template(
        "public/profile.html",
        profile=found,
        category_labels=CATEGORY_LABELS,
        tier_labels=TIER_LABELS,
        objection_mark=UNDER_OBJECTION_MARK,
    )
