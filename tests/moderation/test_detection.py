"""Pure detectors: crisis phrases, identifying details, watched words."""

from __future__ import annotations

import pytest

from alumni_community.moderation import crisis_phrases
from alumni_community.moderation.detection import (
    CENSOR_MARK,
    DEFAULT_CRISIS_PHRASES,
    MAX_PATTERN_LENGTH,
    Finding,
    WatchedWord,
    WatchedWordError,
    compile_watched,
    find_crisis,
    find_identifying,
    fold_for_crisis,
    normalize,
)

# --------------------------------------------------------------------------- normalize


def test_normalize_folds_case_width_invisibles_and_punctuation() -> None:
    assert normalize("  I DON\u2019T\u200b want\t\n—to…  ") == "i dont want to"
    assert normalize("\uff33\uff35\uff29\uff23\uff29\uff24\uff25") == "suicide"  # full-width
    assert normalize("self-harm_kill...myself!!!") == "self harm kill myself"
    assert normalize("Stra\u00dfe cafe\u0301") == "strasse caf\u00e9"


def test_normalize_keeps_digits_but_the_crisis_fold_reads_them_as_letters() -> None:
    assert normalize("k1ll mys3lf") == "k1ll mys3lf"
    assert fold_for_crisis("k1ll mys3lf") == fold_for_crisis("kill myself")
    assert fold_for_crisis("$uicide") == fold_for_crisis("suicide")
    assert fold_for_crisis("I want to die!") == fold_for_crisis("i want to die")


def test_the_default_phrases_are_distinct_and_cover_three_kinds_of_crisis() -> None:
    assert len(DEFAULT_CRISIS_PHRASES) == len(set(DEFAULT_CRISIS_PHRASES))
    assert DEFAULT_CRISIS_PHRASES == (
        crisis_phrases.SUICIDAL_INTENT + crisis_phrases.SELF_HARM + crisis_phrases.RELAPSE_IN_DANGER
    )
    assert all(fold_for_crisis(phrase) for phrase in DEFAULT_CRISIS_PHRASES)


# --------------------------------------------------------------------------- crisis


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("I want to kill myself", "kill myself"),
        ("I WANT TO DIE.", "want to die"),
        ("i just want to end my life tonight", "end my life"),
        ("I don't want to live anymore", "don't want to live"),
        ("i dont want to live", "don't want to live"),
        ("I don\u2019t want to live", "don't want to live"),
        ("Honestly... they'd be better off without me", "better off without me"),
        ("I'm better off dead", "better off dead"),
        ("Life's not worth living", "not worth living"),
        ("There's no reason to live", "no reason to live"),
        ("thinking about suicide again", "suicide"),
        ("feeling suicidal tonight", "suicidal"),
        ("I'm going to take my own life", "take my own life"),
        ("k1ll mys3lf", "kill myself"),
        ("KI11 MYSELF", "kill myself"),
        ("su1c1de", "suicide"),
        ("$uicide", "suicide"),
        ("k!ll myself", "kill myself"),
        ("\uff53\uff55\uff49\uff43\uff49\uff44\uff45", "suicide"),
        ("sui\u200bcide", "suicide"),
        ("I want to dieeeee", "want to die"),
        ("I cut myself again last night", "cut myself"),
        ("I keep wanting to hurt myself", "hurt myself"),
        ("self-harm", "self harm"),
        ("Self Harm", "self harm"),
        ("I relapsed and I'm scared", "relapsed and"),
        ("I'm using again", "i'm using again"),
        ("Im using again", "i'm using again"),
        ("I OD'd last night", "i od'd"),
        ("I drank again and blacked out", "drank again and"),
        ("took too many pills, feeling weird", "took too many pills"),
        ("i cant go on", "can't go on"),
    ],
)
def test_crisis_phrasings_are_found(text: str, phrase: str) -> None:
    assert phrase in find_crisis(text)


@pytest.mark.parametrize(
    "text",
    [
        "Celebrating 90 days clean today, thank you all!",
        "I'm scared of using again, so I called my sponsor.",
        "I'm afraid of drinking again and losing everything.",
        "Relapse prevention group meets Tuesdays at 7:30 pm.",
        "My sponsor says I'm killing it at work.",
        "I bought new cutlery for the sober house kitchen.",
        "I nearly died laughing at the meeting last night.",
        "I want to live a life worth living.",
        "Step 12 is about carrying the message to others.",
        "Today I hurt my ankle at the gym.",
        "The dead of winter is hard but I'm staying sober.",
        "Drinking again is not an option for me.",
        "I'm taking my life back, one day at a time.",
        "Self-care Sunday: long walk and a meeting.",
        "That's odd, the meeting moved rooms.",
        "Narcan and overdose awareness training on Friday.",
        "She gave me a reason to live again.",
    ],
)
def test_ordinary_recovery_talk_is_not_a_crisis(text: str) -> None:
    assert find_crisis(text) == []


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        # Deliberate: the matcher does not read context. A moderator's glance
        # at these costs little; reading "used to" as safe could miss a crisis.
        ("Our centre runs suicide prevention training.", "suicide"),
        ("I used to want to die, now 2 years clean.", "want to die"),
        ("I relapsed in 2019 and came back.", "i relapsed"),
        ("I would never kill myself.", "kill myself"),
    ],
)
def test_crisis_matching_errs_on_the_side_of_flagging(text: str, phrase: str) -> None:
    assert find_crisis(text) == [phrase]


def test_crisis_phrases_match_whole_words_only() -> None:
    assert find_crisis("cutlery and cutting boards", ["cut"]) == []
    assert find_crisis("skills myself", ["kill myself"]) == []
    assert find_crisis("I cut. Myself.", ["cut myself"]) == ["cut myself"]


def test_a_host_passes_its_own_phrases_and_gets_them_back_in_list_order() -> None:
    phrases = ("quiero morir", "me quiero matar", "quiero morir")
    assert find_crisis("Ya no puedo. QUIERO MORIR y me quiero matar", phrases) == [
        "quiero morir",
        "me quiero matar",
    ]
    assert find_crisis("quiero morir", []) == []


def test_a_single_string_is_refused_as_a_phrase_list() -> None:
    with pytest.raises(TypeError):
        find_crisis("suicide", "suicide")


# --------------------------------------------------------------------------- identifying details


def _found(text: str, region: str = "US") -> list[tuple[str, str]]:
    return [(f.kind, f.text) for f in find_identifying(text, default_region=region)]


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("call me at (212) 555-0123 after the meeting", "(212) 555-0123"),
        ("my cell is 415-555-2671", "415-555-2671"),
        ("text 415.555.2671", "415.555.2671"),
        ("+1 415 555 2671", "+1 415 555 2671"),
        ("phone 2125550123 ok", "2125550123"),
        ("my local number is 555-0199", "555-0199"),
        ("ring me on +44 20 7946 0958", "+44 20 7946 0958"),
        ("WhatsApp +33 6 12 34 56 78", "+33 6 12 34 56 78"),
        ("+353 87 123 4567 is my mobile", "+353 87 123 4567"),
    ],
)
def test_phone_numbers_are_found(text: str, number: str) -> None:
    assert _found(text) == [("phone", number)]


def test_the_default_region_decides_how_national_numbers_are_read() -> None:
    assert _found("bel me op 06 12345678", "NL") == [("phone", "06 12345678")]
    assert _found("bel me op 06 12345678", "US") == []


def test_toll_free_helplines_are_not_identifying() -> None:
    assert _found("SAMHSA's helpline is 1-800-662-4357, or call 988") == []


@pytest.mark.parametrize(
    "text",
    [
        "24 hours at a time",
        "90 days clean today",
        "I'm on step 12",
        "sober since 2019",
        "meeting at 7:30 pm",
        "1,825 days and counting",
        "sobriety date 2019-05-12",
        "sober since 12/03/2019",
        "2 years 3 months 14 days",
        "from 365-1000 days, it gets easier",
        "The 12 Step Way",
        "it's a 45 minute drive",
        "3 blocks down the street",
        "30 days clean on my way",
        "I celebrate 18 months on Main Street",
    ],
)
def test_recovery_numbers_are_not_identifying(text: str) -> None:
    assert _found(text) == []


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("write to jane.doe@example.com", "jane.doe@example.com"),
        ("JANE_DOE+alumni@Mail.Example.co.uk.", "JANE_DOE+alumni@Mail.Example.co.uk"),
        ("jane at gmail dot com", "jane at gmail dot com"),
        ("jane [at] example [dot] org", "jane [at] example [dot] org"),
        ("jane (at) example (dot) com", "jane (at) example (dot) com"),
        ("jane{at}example{dot}net", "jane{at}example{dot}net"),
        ("jane@example dot com", "jane@example dot com"),
        ("email me at john dot smith at gmail dot com", "john dot smith at gmail dot com"),
        ("jo at gmail.com", "jo at gmail.com"),
        ("JO AT YAHOO DOT COM", "JO AT YAHOO DOT COM"),
    ],
)
def test_email_addresses_are_found_plain_and_obfuscated(text: str, address: str) -> None:
    assert _found(text) == [("email", address)]


@pytest.mark.parametrize(
    "text",
    [
        "sign up at volunteer.org for shifts",
        "visit us at aa.org",
        "meet me at the park at noon",
        "thanks @river for the ride",
        "I'm at work. Dot says hi.",
    ],
)
def test_websites_and_the_word_at_are_not_email(text: str) -> None:
    assert _found(text) == []


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("I live at 123 Main St, Apt 4B", "123 Main St, Apt 4B"),
        ("come by 42 Elm Street", "42 Elm Street"),
        ("1600 Pennsylvania Ave NW", "1600 Pennsylvania Ave"),
        ("350 5th Avenue", "350 5th Avenue"),
        ("12B Baker Street", "12B Baker Street"),
        ("77 N. Martin Luther Blvd.", "77 N. Martin Luther Blvd."),
        ("5 Oak Ln #12", "5 Oak Ln #12"),
        ("my place is 123 main st", "123 main st"),
        ("99 Sunset Drive, Unit 3", "99 Sunset Drive, Unit 3"),
    ],
)
def test_street_addresses_are_found(text: str, address: str) -> None:
    assert _found(text) == [("address", address)]


def test_findings_come_in_text_order_with_spans_of_the_original_text() -> None:
    text = "Jo here: 415-555-2671, jo [at] example [dot] org, 42 Elm Street"
    findings = find_identifying(text)
    assert [f.kind for f in findings] == ["phone", "email", "address"]
    assert all(text[f.start : f.end] == f.text for f in findings)
    assert findings[0] == Finding("phone", "415-555-2671", 9, 21)


def test_an_email_with_digits_is_one_email_not_also_a_phone() -> None:
    assert _found("reach me: jo4155552671@gmail.com") == [("email", "jo4155552671@gmail.com")]


# --------------------------------------------------------------------------- watched words


def test_each_action_is_reported_for_its_word() -> None:
    for action in ("block", "hold", "flag", "censor"):
        result = compile_watched([WatchedWord("dealer", action=action)]).check("a DEALER")
        assert result.action == action
        assert result


def test_the_strongest_action_wins_and_every_hit_word_is_listed() -> None:
    words = [
        WatchedWord("darn", action="censor"),
        WatchedWord("meth", action="flag"),
        WatchedWord(r"h[e3]roin", is_regex=True, action="hold"),
        WatchedWord("dealer", action="block"),
    ]
    matcher = compile_watched(words)
    result = matcher.check("darn, meth and H3ROIN")
    assert result.action == "hold"
    assert result.words == (words[0], words[1], words[2])
    assert matcher.check("darn meth heroin dealer").action == "block"
    assert matcher.check("darn").action == "censor"


def test_no_hit_is_a_falsy_result() -> None:
    result = compile_watched([WatchedWord("meth")]).check("methods of recovery")
    assert result.action is None
    assert result.words == ()
    assert not result


def test_plain_words_match_whole_words_of_normalized_text() -> None:
    matcher = compile_watched([WatchedWord("meth"), WatchedWord("crystal meth", action="hold")])
    assert matcher.check("M\u200bETH").words == (WatchedWord("meth"),)
    assert matcher.check("\uff4d\uff45\uff54\uff48!").action == "flag"
    assert matcher.check("Crystal...meth").action == "hold"
    assert not matcher.check("method, something")


def test_censor_replaces_hits_in_the_original_text() -> None:
    matcher = compile_watched(
        [
            WatchedWord("darn", action="censor"),
            WatchedWord(r"fr[i1]ck\w*", is_regex=True, action="censor"),
            WatchedWord("meth", action="hold"),
        ]
    )
    text = "Oh DARN it, d\u200barn, \uff24\uff41\uff52\uff4e! FR1CKING meth, darning"
    assert matcher.censor(text) == (
        f"Oh {CENSOR_MARK} it, {CENSOR_MARK}, {CENSOR_MARK}! {CENSOR_MARK} meth, darning"
    )
    assert matcher.censor("nothing here") == "nothing here"


def test_overlapping_censor_hits_are_hidden_once() -> None:
    matcher = compile_watched(
        [WatchedWord("bad word", action="censor"), WatchedWord("word salad", action="censor")]
    )
    assert matcher.censor("a bad word salad!") == f"a {CENSOR_MARK}!"


def test_censor_leaves_apostrophes_and_ligatures_inside_the_hidden_span() -> None:
    matcher = compile_watched([WatchedWord("don't", action="censor")])
    assert matcher.censor("I DON\u2019T care") == f"I {CENSOR_MARK} care"
    matcher = compile_watched([WatchedWord("fine", action="censor")])
    assert matcher.censor("\ufb01ne.") == f"{CENSOR_MARK}."  # the "fi" ligature


@pytest.mark.parametrize(
    "pattern",
    [
        "(a+)+",
        "(a*)*b",
        "(a|aa)+",
        "(?:x+y?)*",
        "((ab)+c)+",
        "(?:colou?r){2,}",
        r"(a)\1",
        "(?P<w>a)(?P=w)",
    ],
)
def test_regexes_that_backtrack_badly_are_refused(pattern: str) -> None:
    with pytest.raises(WatchedWordError):
        WatchedWord(pattern, is_regex=True)


@pytest.mark.parametrize(
    "pattern",
    [
        r"\bh[e3]roin\b",
        "(?:coke|cocaine)",
        "k+i+l+",
        "(?i)foo",
        "[(]a+[)]+",
        "(ab)+",
        r"\d{3}-\d{4}",
    ],
)
def test_ordinary_regexes_are_accepted(pattern: str) -> None:
    assert WatchedWord(pattern, is_regex=True).is_regex


def test_refused_regexes_say_why() -> None:
    with pytest.raises(WatchedWordError, match="at most 200"):
        WatchedWord("a" * (MAX_PATTERN_LENGTH + 1), is_regex=True)
    with pytest.raises(WatchedWordError, match="not a valid regular expression"):
        WatchedWord("(unclosed", is_regex=True)
    with pytest.raises(WatchedWordError, match="empty text"):
        WatchedWord("a*", is_regex=True)
    with pytest.raises(WatchedWordError, match="letter or a digit"):
        WatchedWord("!!!")
    with pytest.raises(WatchedWordError, match="action"):
        WatchedWord("meth", action="delete")  # type: ignore[arg-type]


def test_a_slow_shape_is_refused_for_its_shape_even_when_it_also_matches_empty_text() -> None:
    with pytest.raises(WatchedWordError, match="repeated group"):
        WatchedWord("(a|a)*", is_regex=True)


def test_zero_width_regex_hits_hide_nothing_and_are_not_hits() -> None:
    matcher = compile_watched([WatchedWord(r"\b", is_regex=True, action="censor")])
    assert not matcher.check("some words")
    assert matcher.censor("some words") == "some words"


def test_repeated_words_are_compiled_once() -> None:
    word = WatchedWord("meth")
    assert compile_watched([word, word, WatchedWord("meth")]).words == (word,)
