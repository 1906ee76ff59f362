"""Recurring meetings: occurrences in any time zone, the Meeting Guide feed, iCalendar."""
