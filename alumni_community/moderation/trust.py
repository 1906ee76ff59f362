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
    #: TL1 after this many approved posts and days since joining.
    tl1_posts: int = 3
    tl1_days: int = 2

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            # Intervals of 0 would divide a limit by nothing; counts may be 0.
            floor = 1 if name.endswith("interval") else 0
            if not isinstance(value, int) or value < floor:
                raise ValueError(f"trust.{name} must be a whole number of at least {floor}")


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
