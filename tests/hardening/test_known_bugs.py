"""Bugs the hardening fuzzers found: regression tests once fixed, strict xfails until then."""

from __future__ import annotations

from xml.etree import ElementTree

from emu_client import signed

from stsdesk.emulator.server import EmulatorServer


def test_invalid_action_with_a_control_character_still_answers_well_formed_xml(
    demo_emulator: EmulatorServer,
) -> None:
    # Action=%08 -> InvalidAction "Could not find operation \x08 for version ..." : \x08 is not allowed in XML 1.0
    reply = signed(demo_emulator, [("Action", "\x08"), ("Version", "2011-06-15")])
    assert reply.status == 400
    root = ElementTree.fromstring(reply.body)
    assert root.findtext("{https://sts.amazonaws.com/doc/2011-06-15/}Error/"
                         "{https://sts.amazonaws.com/doc/2011-06-15/}Code") == "InvalidAction"
