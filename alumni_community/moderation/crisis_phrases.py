"""The default English crisis phrases that ``detection.find_crisis`` looks for.

Phrases are written the way people write them; the matcher folds both the
phrase and the post the same way (case, width, punctuation, apostrophes,
leetspeak, repeated letters), so ``"don't want to live"`` also finds
``"DONT want 2 live"``-style spellings and there is no need to list them.

How the list was chosen: a missed crisis is worse than a moderator's glance,
so phrases lean towards flagging. They still have to signal *danger*, not
ordinary recovery talk: ``"overdosed"`` is here but a bare ``"overdose"``
is not (``"overdose awareness day"``, ``"Narcan overdose training"``);
``"i'm using again"`` is here but ``"using again"`` is not (``"I'm scared
of using again"`` is the most ordinary sentence in a recovery forum);
``"take my own life"`` is here but ``"take my life"`` is not (``"I'm taking
my life back"``). Phrases that stay deliberately broad and so also match
history or second-hand talk (``"suicide"``, ``"i relapsed"``, ``"want to
die"``) are listed in the module docs of ``detection``.

This list is English and US-flavoured. A host serving another language or
culture passes its own list to ``find_crisis``; these tuples are a starting
point to copy, not a complete vocabulary.
"""

from __future__ import annotations

__all__ = ["DEFAULT_CRISIS_PHRASES", "RELAPSE_IN_DANGER", "SELF_HARM", "SUICIDAL_INTENT"]

#: Thoughts of suicide, stated or euphemistic.
SUICIDAL_INTENT: tuple[str, ...] = (
    "suicide",
    "suicidal",
    "kill myself",
    "killing myself",
    # Common shorthand for "kill myself"; also "kilometres", a cost we accept.
    "kms",
    "unalive myself",
    "unaliving myself",
    "end my life",
    "ending my life",
    "end my own life",
    "take my own life",
    "taking my own life",
    "took my own life",
    "end it all",
    "ending it all",
    "want to die",
    "wanna die",
    "want 2 die",
    "want to be dead",
    "ready to die",
    "wish i was dead",
    "wish i were dead",
    "wish i could die",
    "better off dead",
    "better off without me",
    "don't want to live",
    "don't wanna live",
    "don't want to be alive",
    "don't want to be here anymore",
    "don't want to wake up",
    "hope i don't wake up",
    "not worth living",
    "no reason to live",
    "nothing to live for",
    "no point in living",
    "no point living",
    "can't go on",
    "cannot go on",
    "can't do this anymore",
    "hang myself",
    "shoot myself",
    "jump off a bridge",
    "jump off the bridge",
    "jump in front of a train",
)

#: Harming oneself without (stated) intent to die.
SELF_HARM: tuple[str, ...] = (
    "self harm",
    "self harming",
    "selfharm",
    "cut myself",
    "cutting myself",
    "cutting again",
    "cut my wrists",
    "slit my wrists",
    "hurt myself",
    "hurting myself",
    "harm myself",
    "harming myself",
    "burn myself",
    "burning myself",
)

#: A relapse happening now, or use that endangers life. Worded in the first
#: person or as an event, so fear of relapse ("scared of using again") does
#: not match.
RELAPSE_IN_DANGER: tuple[str, ...] = (
    "i relapsed",
    "i've relapsed",
    "just relapsed",
    "relapsed and",
    "relapsed again",
    "i'm using again",
    "i am using again",
    "been using again",
    "started using again",
    "i used again",
    "i drank again",
    "drank again and",
    "i'm drinking again",
    "been drinking again",
    "started drinking again",
    "can't stop using",
    "can't stop drinking",
    "overdosed",
    "overdosing",
    "going to overdose",
    "gonna overdose",
    "want to overdose",
    "overdose on purpose",
    "i od'd",
    "i od'ed",
    "almost od'd",
    "nearly od'd",
    "took too many pills",
    "took all my pills",
    "took a bunch of pills",
)

#: Everything above, in one tuple: what ``find_crisis`` uses unless told otherwise.
DEFAULT_CRISIS_PHRASES: tuple[str, ...] = SUICIDAL_INTENT + SELF_HARM + RELAPSE_IN_DANGER
