"""Milestones: time sober, counted from a member's own sobriety date.

The ladder is the one 12-step fellowships celebrate with chips and
keytags: 24 hours, 30, 60 and 90 days, 6 and 9 months, 1 year, 18 months,
then every year. Months and years are calendar months (the 31st of a month
without one counts on its last day; 29 February counts on 28 February in
other years). A member chooses who sees theirs: nobody (the default) or
members. Resetting the date after a relapse changes only the count: posts,
service hours and trust level stay, and the old date is not kept.
"""

from __future__ import annotations

import calendar
import contextvars
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "DEFAULT_LADDER",
    "Milestone",
    "Step",
    "add_months",
    "current",
    "milestone_on",
    "reached_on",
]


@dataclass(frozen=True)
class Step:
    """One rung: a number of days or of calendar months."""

    label: str
    days: int = 0
    months: int = 0


DEFAULT_LADDER: tuple[Step, ...] = (
    Step("24 hours", days=1),
    Step("30 days", days=30),
    Step("60 days", days=60),
    Step("90 days", days=90),
    Step("6 months", months=6),
    Step("9 months", months=9),
    Step("1 year", months=12),
    Step("18 months", months=18),
)

#: The ladder and today's date for the community serving this request (set
#: by the community on each call; the default ladder and the real date otherwise).
_current: contextvars.ContextVar[tuple[Sequence[Step], dt.date | None]] = contextvars.ContextVar(
    "alumni_community_milestones", default=(DEFAULT_LADDER, None)
)


def use(
    ladder: Sequence[Step], today: dt.date | None
) -> contextvars.Token[tuple[Sequence[Step], dt.date | None]]:
    return _current.set((ladder, today))


def reset(token: contextvars.Token[tuple[Sequence[Step], dt.date | None]]) -> None:
    _current.reset(token)


@dataclass(frozen=True)
class Milestone:
    label: str
    days: int
    #: The day it was reached.
    on: dt.date


def add_months(start: dt.date, months: int) -> dt.date:
    """``start`` plus calendar months, on the month's last day when it is shorter."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def reached_on(sober: dt.date, step: Step) -> dt.date:
    return add_months(sober, step.months) + dt.timedelta(days=step.days)


def _rungs(sober: dt.date, ladder: Sequence[Step], until: dt.date) -> list[tuple[Step, dt.date]]:
    rungs = [(step, reached_on(sober, step)) for step in ladder]
    # Then every year, from 2 years on.
    years = 2
    while True:
        on = add_months(sober, 12 * years)
        if on > until:
            break
        rungs.append((Step(f"{years} years", months=12 * years), on))
        years += 1
    return sorted(rungs, key=lambda rung: rung[1])


def milestone_on(
    sober: dt.date, today: dt.date, ladder: Sequence[Step] = DEFAULT_LADDER
) -> Milestone | None:
    """The highest milestone reached by ``today`` (None before the first)."""
    if sober > today:
        return None
    reached = [(step, on) for step, on in _rungs(sober, ladder, today) if on <= today]
    if not reached:
        return None
    step, on = reached[-1]
    return Milestone(step.label, (today - sober).days, on)


def current(sober: dt.date | None) -> Milestone | None:
    """The milestone for the community serving this call, as of today."""
    if sober is None:
        return None
    ladder, today = _current.get()
    return milestone_on(sober, today or dt.datetime.now(dt.UTC).date(), ladder)
