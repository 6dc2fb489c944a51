"""The production app for the HTTP benchmark, plus one bare route: ``/__bench/ping``.

gunicorn serves ``bench.wsgi_bench:app`` (``bench/http_bench.py``). The ping route returns a
constant through the same app (its middleware, hooks, security headers and metrics), so its
throughput is the framework's ceiling on this machine: the baseline every endpoint is compared
with. It exists only here, never in the application's own code.
"""

from __future__ import annotations

from backend.app import create_app

app = create_app()


@app.get("/__bench/ping")
@app.doc(hide=True)
def bench_ping():
    return {"pong": True}
