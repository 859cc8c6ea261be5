"""The Time left cell (tree_presentation): hh:mm:ss rounded down, "expired" at or below zero, days and hours for a
sign-in past two days; the colour by urgency (none over 10 minutes, amber, red, grey when expired). The texts of
whole seconds are kept between paints, so a cell shows the same text as a fresh format of the same second."""

from __future__ import annotations

from stsdesk.core.model import Profile, ProfileKind
from stsdesk.gui.countdown import CRITICAL_SECONDS, WARN_SECONDS, Urgency, format_time_left
from stsdesk.gui.profile_store import ProfileNode, ProfileStore
from stsdesk.gui.tree_presentation import TIME_LEFT, _brush, display, foreground


def test_text_and_colour_at_each_urgency(qapp: object) -> None:
    store = ProfileStore()
    node = ProfileNode(Profile("dev", ProfileKind.ROLE), 0, 0, [], expiry=10_000.0)
    cases = [
        (10_000.0 - 3 * 3600 - 61.5, "03:01:01", None),
        (10_000.0 - WARN_SECONDS, "00:10:00", None),
        (10_000.0 - WARN_SECONDS + 0.25, "00:09:59", _brush(Urgency.WARN)),
        (10_000.0 - CRITICAL_SECONDS + 0.5, "00:01:59", _brush(Urgency.CRITICAL)),
        (10_000.0 - 0.5, "00:00:00", _brush(Urgency.CRITICAL)),
        (10_000.0, "expired", _brush(Urgency.EXPIRED)),
        (10_003.0, "expired", _brush(Urgency.EXPIRED)),
    ]
    for now, text, brush in cases * 2:  # twice: the second time from the texts kept
        assert display(store, node, TIME_LEFT, now) == text == format_time_left(10_000.0 - now)
        assert node.shown_left == text
        assert foreground(node, TIME_LEFT, now) is brush
    assert all(brush is not None for _, _, brush in cases[2:])


def test_a_sign_in_past_two_days_shows_days_and_hours(qapp: object) -> None:
    store = ProfileStore()
    node = ProfileNode(Profile("\x1fsso", ProfileKind.OTHER), 0, 0, [], expiry=10 * 86400.0, group="sso-session")
    assert display(store, node, TIME_LEFT, 10 * 86400.0 - (3 * 86400 + 5 * 3600 + 10)) == "3 d 5 h"
    assert display(store, node, TIME_LEFT, 10 * 86400.0 - 3661.0) == "01:01:01"
