"""Every outbox topic, what it means and who consumes it: the registry ``enqueue_event`` checks.

An event whose topic has no handler would stay pending for ever, and the oldest pending event
is the lag that CreditOutboxLag alerts on: one objection would keep the alert firing for good.
So a topic exists only here, ``enqueue_event`` refuses any other, and every topic here has a
handler in the worker (``backend/jobs.py: worker_handlers``), a real one or a deliberate no-op
(``acknowledge``) whose reason is written below; tests/test_outbox_topics.py checks both
against the app and against every ``enqueue_event`` call in the code.
"""

from __future__ import annotations

from dataclasses import dataclass

from .worker import Handler, OutboxDelivery


@dataclass(frozen=True)
class Topic:
    name: str
    meaning: str
    consumer: str  # who delivers it; for a no-op, why nobody needs to
    no_op: bool = False  # delivered by ``acknowledge``: marked delivered, nothing sent


CASE_TYPES = ("objection", "repair")
# The state changes announced to the citizen who filed (the WeChat "case_progress" message).
ANNOUNCED_CASE_ACTIONS = ("accept", "return", "decide", "extend", "deliver")
# The steps the applicant takes themselves: they see the result on the spot (the filing answer
# carries the case number; supplement and withdraw answer with the new state), and staff find new
# and supplemented cases in the console's queues, which read the cases themselves.
APPLICANT_CASE_ACTIONS = ("file", "supplement", "withdraw")

_TOPICS: list[Topic] = [
    *(
        Topic(f"{case_type}.{action}", f"{case_type} case: {action}", "WeChat subscribe message to the applicant")
        for case_type in CASE_TYPES
        for action in ANNOUNCED_CASE_ACTIONS
    ),
    *(
        Topic(
            f"{case_type}.{action}",
            f"{case_type} case: {action} by the applicant",
            "no-op: the applicant did it and saw the answer; staff work from the console's queue",
            no_op=True,
        )
        for case_type in CASE_TYPES
        for action in APPLICANT_CASE_ACTIONS
    ),
    Topic(
        "case.deadline_reminder",
        "a running case deadline is within DEADLINE_REMINDER_WORKING_DAYS working days",
        # The platform has no staff messaging channel (no mail, no SMS): the reminder's effect is
        # the case's ``reminded_deadline`` flag, which the console's case lists show as 临近时限.
        "no-op: the console shows the flag the job set; there is no staff channel to send on",
        no_op=True,
    ),
    Topic(
        "case.overdue_escalated",
        "a case passed its deadline and was escalated to the platform admin",
        # The escalation itself is the ``escalated_at`` flag and an audit row; the console's
        # dashboard lists escalated cases for the platform admin.
        "no-op: the console's dashboard lists escalated cases; there is no staff channel",
        no_op=True,
    ),
    Topic(
        "record.changed",
        "a published record was corrected, withdrawn or repaired",
        "report registry: revokes the valid reports that showed it (issued_reports/jobs.py)",
    ),
    Topic(
        "report.revoked",
        "an issued report was revoked",
        "WeChat subscribe message to the citizen who issued it in the mini-program (if subscribed)",
    ),
    Topic("report.issued", "a report issued in the mini-program", "WeChat subscribe message to its issuer"),
    Topic(
        "binding.suspended",
        "an enterprise binding was suspended (name-only binding, or a new registered representative)",
        "WeChat subscribe message to the binding's holder (backend/citizens/suspension.py)",
    ),
    Topic(
        "report.expiring",
        "a mini-program report's validity ends soon",
        "WeChat subscribe message to the citizen who issued it",
    ),
    Topic(
        "wechat.oa_reply",
        "an official-account answer that took longer than WeChat waits for a passive reply",
        "WeChat customer-service message to the follower (miniprogram_api/oa.py)",
    ),
]
TOPICS: dict[str, Topic] = {topic.name: topic for topic in _TOPICS}


class UnknownTopic(ValueError):
    """A programming error: a producer queued a topic the registry does not list."""


def check_topic(name: str) -> None:
    if name not in TOPICS:
        raise UnknownTopic(
            f"outbox topic {name!r} is not in backend/outbox/topics.py: add it there with its handler "
            "(or a deliberate no-op), or it would stay pending for ever"
        )


def acknowledge(delivery: OutboxDelivery) -> None:
    """The deliberate no-op handler: the event is marked delivered and nothing is sent. Its
    topic says why in ``TOPICS``."""


def no_op_handlers() -> dict[str, Handler]:
    return {name: acknowledge for name, topic in TOPICS.items() if topic.no_op}
