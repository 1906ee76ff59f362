"""Trust levels: what a member may do, and when they move up. Pure rules.

The figures are Discourse's and NodeBB's defaults, adapted to a community
where a harmful first post costs more than a slow one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["CrisisResource", "TrustRules", "count_links", "count_mentions"]


@dataclass(frozen=True, kw_only=True)
class TrustRules:
    #: Posts a new member has approved before their posts stop being held in
    #: ``new_members_reviewed`` rooms: three looks are enough to tell a person
    #: from a spammer, few enough not to make newcomers wait long.
    reviewed_posts: int = 3
    #: Links and @mentions in one TL0 post: spam is links, harassment is mentions.
    tl0_max_links: int = 2
    tl0_max_mentions: int = 2
    #: Seconds between posts (TL0 30 s, TL1+ 5 s) and threads (TL1+ 15 s):
    #: slows floods without slowing a conversation.
    tl0_post_interval: int = 30
    post_interval: int = 5
    thread_interval: int = 15
    #: Chat messages per ``chat_window`` seconds (TL0 20, others 40): a lively
    #: conversation never reaches it, a flood script does at once.
    tl0_chat_messages: int = 20
    chat_messages: int = 40
    chat_window: int = 30
    #: Threads and replies a new member may start in their first 24 hours:
    #: room for a real introduction, not for a spam run.
    tl0_first_day_threads: int = 3
    tl0_first_day_replies: int = 10
    #: TL1 after this many approved posts and days since joining.
    tl1_posts: int = 3
    tl1_days: int = 2
    #: TL2 after this many visible posts and days since joining, and no flag
    #: on their posts upheld by a moderator within the last ``tl2_clean_days``:
    #: a regular who has kept the peace.
    tl2_posts: int = 20
    tl2_days: int = 15
    tl2_clean_days: int = 30
    #: Open flags weighing this much hide a post until a moderator looks: two
    #: TL2 members (3 each) or one moderator (5), never one newcomer alone.
    hide_weight: int = 5
    #: Flags a member may raise per day, by trust level: enough to report a
    #: bad day's spam, too few to flag-bomb someone.
    tl1_flags_per_day: int = 10
    tl2_flags_per_day: int = 20
    tl3_flags_per_day: int = 30
    #: A flag weighs 1 + the flagger's trust level. Once this many of a
    #: member's flags have been decided, their accuracy (agreed / decided, in
    #: percent) moves it: +1 at ``accurate_percent`` or above, -1 (never below
    #: 1) under ``inaccurate_percent``. Members whose flags are usually right
    #: hide bad posts sooner; a member flagging out of spite loses weight.
    accuracy_min_flags: int = 5
    accurate_percent: int = 80
    inaccurate_percent: int = 40
    #: Lengths, in days, of a member's successive silences and suspensions
    #: when the moderator gives no end time: a first mistake costs a day, a
    #: pattern costs a month.
    penalty_ladder_days: tuple[int, ...] = (1, 3, 7, 30)

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if name == "penalty_ladder_days":
                if (
                    not isinstance(value, tuple)
                    or not value
                    or not all(
                        isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in value
                    )
                ):
                    raise ValueError("trust.penalty_ladder_days must be a tuple of days, each >= 1")
                continue
            # Intervals and weights of 0 would divide by or hide on nothing; counts may be 0.
            floor = (
                1
                if name.endswith(("interval", "weight", "per_day", "chat_messages", "window"))
                else 0
            )
            if not isinstance(value, int) or isinstance(value, bool) or value < floor:
                raise ValueError(f"trust.{name} must be a whole number of at least {floor}")
        if not self.inaccurate_percent <= self.accurate_percent <= 100:
            raise ValueError("trust: inaccurate_percent <= accurate_percent <= 100")

    def flags_per_day(self, level: int) -> int:
        return (self.tl1_flags_per_day, self.tl2_flags_per_day, self.tl3_flags_per_day)[
            min(max(level, 1), 3) - 1
        ]

    def flag_weight(self, level: int, agreed: int, disagreed: int) -> int:
        """The weight of a flag from a member of ``level`` with this record of decided flags."""
        weight = 1 + level
        decided = agreed + disagreed
        if decided and decided >= self.accuracy_min_flags:
            percent = 100 * agreed / decided
            if percent >= self.accurate_percent:
                weight += 1
            elif percent < self.inaccurate_percent:
                weight = max(1, weight - 1)
        # One member alone never hides a post: that takes two, or a moderator.
        return min(weight, self.hide_weight - 1) if self.hide_weight > 1 else weight


@dataclass(frozen=True, kw_only=True)
class CrisisResource:
    """One line of help shown to a member whose post matched a crisis phrase."""

    name: str
    contact: str
    url: str | None = None


_LINK = re.compile(r"\bhttps?://|(?<![/\w.])www\.", re.IGNORECASE)
_MENTION = re.compile(r"(?<![\w@])@[\w-]{3,32}")


def count_links(body: str) -> int:
    return len(_LINK.findall(body))


def count_mentions(body: str) -> int:
    return len(_MENTION.findall(body))
