"""The milestone ladder (pure), and who sees a milestone (through the API)."""

from __future__ import annotations

import datetime as dt

import pytest

from alumni_community.milestones import Step, add_months, milestone_on

D = dt.date


@pytest.mark.parametrize(
    ("sober", "today", "label"),
    [
        (D(2026, 1, 1), D(2026, 1, 1), None),  # the first day: not yet 24 hours
        (D(2026, 1, 1), D(2026, 1, 2), "24 hours"),
        (D(2026, 1, 1), D(2026, 1, 30), "24 hours"),  # day 29
        (D(2026, 1, 1), D(2026, 1, 31), "30 days"),  # day 30
        (D(2026, 1, 1), D(2026, 3, 31), "60 days"),  # day 89
        (D(2026, 1, 1), D(2026, 4, 1), "90 days"),
        (D(2026, 1, 1), D(2026, 7, 1), "6 months"),
        (D(2026, 1, 1), D(2026, 10, 1), "9 months"),
        (D(2025, 1, 1), D(2026, 1, 1), "1 year"),
        (D(2024, 7, 1), D(2026, 1, 1), "18 months"),
        (D(2020, 5, 5), D(2026, 5, 5), "6 years"),
        (D(2020, 5, 5), D(2026, 5, 4), "5 years"),
        # Leap day: the year is reached on 28 February in other years.
        (D(2024, 2, 29), D(2025, 2, 27), "9 months"),
        (D(2024, 2, 29), D(2025, 2, 28), "1 year"),
        (D(2024, 2, 29), D(2028, 2, 29), "4 years"),
        # A month without a 31st counts on its last day.
        (D(2025, 8, 31), D(2026, 2, 27), "90 days"),
        (D(2025, 8, 31), D(2026, 2, 28), "6 months"),
        (D(2026, 5, 1), D(2026, 4, 1), None),  # a date in the future
    ],
)
def test_the_ladder(sober: dt.date, today: dt.date, label: str | None) -> None:
    reached = milestone_on(sober, today)
    assert (reached.label if reached else None) == label
    if reached:
        assert reached.days == (today - sober).days


def test_months_and_custom_ladders() -> None:
    assert add_months(D(2026, 1, 31), 1) == D(2026, 2, 28)
    assert add_months(D(2024, 1, 31), 1) == D(2024, 2, 29)
    assert add_months(D(2026, 11, 15), 3) == D(2027, 2, 15)
    ladder = [Step("a week", days=7)]
    assert milestone_on(D(2026, 1, 1), D(2026, 1, 8), ladder).label == "a week"  # type: ignore[union-attr]
