"""The API documentation page, /docs: Swagger UI served from the platform itself.

APIFlask's own page loads Swagger UI from a public CDN (unpinned, no integrity check) and starts
it with an inline script, which our Content-Security-Policy (``script-src 'self'``) blocks: the
page was blank, and on a government intranet with no internet it could not load at all. Here the
pinned, vendored files (backend/static/swagger-ui/README.md) and a start-up script of our own
(backend/static/api-docs.js) are all served by the app, so the page works under the same CSP as
every other page.
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template_string

bp = Blueprint("api_docs", __name__)

PAGE = """<!DOCTYPE html>
<html lang="zh-CN">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{{ title }} {{ version }}</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="{{ url_for('static', filename='swagger-ui/swagger-ui.css') }}">
</head>
<body>
  <div id="swagger-ui" data-spec-url="{{ url_for('openapi.spec') }}"></div>
  <script src="{{ url_for('static', filename='swagger-ui/swagger-ui-bundle.js') }}"></script>
  <script src="{{ url_for('static', filename='api-docs.js') }}"></script>
</body>
</html>
"""


@bp.get("/docs")
def docs():
    return render_template_string(PAGE, title=current_app.title, version=current_app.version)
