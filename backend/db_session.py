"""The request's transaction: one commit per request, owned by the request, not by the views.

As Indico's ``RH.process`` (``indico/web/rh.py``) and STYLE.md 6: the view loads, authorises,
validates, calls one operation and returns; this boundary then decides the transaction from
the outcome.

- **Success** (the view returned a 1xx, 2xx or 3xx response, GET pages that wrote audit rows
  included): commit, before the response leaves the view, so a streamed body or a
  ``send_file`` read afterwards sees committed data, and a failing commit is answered by the
  error handlers (503 for an unreachable database, 500 otherwise) instead of a success.
- **Error** (the view returned a 4xx/5xx response or raised, an ``abort`` or an ``ApiError``
  included): roll back everything the request wrote.
- **A refused attempt that must stay on record** (a wrong password and its failure count, a
  lockout, a refused identity check with its audit row, a consumed challenge, an alert about a
  misconfigured WeChat credential): the view calls ``commit_refusal()`` just before it answers
  with the error. It commits what the request has written so far; whatever the request writes
  after it is decided by the rules above. It is the only commit a view may ask for
  (``tests/test_house_rules.py`` finds no ``commit()`` in any view module).

Outside a request the boundary is the caller's: the CLI commands and the worker's jobs commit
explicitly (``backend/cli.py``, ``backend/jobs.py``). Before-request hooks that answer on their
own (a disabled kiosk, the console outside the management networks) never reach a view: their
writes, if any, are rolled back at the end of the request, as Flask-SQLAlchemy's session
removal always did.
"""

from __future__ import annotations

from apiflask import APIFlask
from flask import Response, g

from .extensions import db

_REFUSAL_KEPT = "_refusal_committed"


def commit_refusal() -> None:
    """Keep what this request has recorded so far although its answer is an error.

    For the refusals that must survive the error response: audit rows of refused log-ins and
    identity checks, failure counters and lockouts, consumed one-time challenges. Use it right
    before returning or raising the error, never for a successful answer (the boundary commits
    those)."""
    db.session.commit()
    g.setdefault(_REFUSAL_KEPT, 0)
    g._refusal_committed += 1


def refusals_committed() -> int:
    """How many times this request kept a refusal (for tests and diagnostics)."""
    return int(g.get(_REFUSAL_KEPT, 0))


def end_transaction(response: Response | None) -> None:
    """Commit for a successful ``response``, roll back for an error or a raised exception (None)."""
    if response is not None and response.status_code < 400:
        db.session.commit()
    else:
        db.session.rollback()


class TransactionalApp(APIFlask):
    """APIFlask whose every view runs in the request's transaction (see the module docstring)."""

    def dispatch_request(self):  # type: ignore[override]
        g.pop(_REFUSAL_KEPT, None)  # ``g`` outlives a request when an app context was pushed before it
        try:
            response = self.make_response(super().dispatch_request())
        except BaseException:
            end_transaction(None)
            raise
        end_transaction(response)
        return response


def rollback_leftovers(exc: BaseException | None) -> None:
    """``teardown_request``: nothing a request left uncommitted survives it (writes of a
    before-request hook that answered, of an after-request hook, of an error handler)."""
    db.session.rollback()
