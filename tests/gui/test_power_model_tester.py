"""Qt's own model checker (QAbstractItemModelTester) on the By-account model and its filter proxy, through
loading, runtime state, ticks, a learned account that moves a row to another group, label changes, reloads and
filtering (issue 16)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gui_helpers import groups_shown
from PySide6.QtCore import QSettings

from stsdesk.core.profiles import build_tree
from stsdesk.gui.account_labels import AccountLabels
from stsdesk.gui.account_view import AccountFilterProxy, AccountTreeModel
from stsdesk.gui.tree_model import ProfileTreeModel

RAW: dict[str, dict[str, Any]] = {
    "alice": {"stsdesk_access_key_id": "AKIADEMOALICE0000001", "mfa_serial": "arn:aws:iam::111111111111:mfa/alice"},
    "dev": {"source_profile": "alice", "role_arn": "arn:aws:iam::222222222222:role/Developer"},
    "deployer": {"source_profile": "dev", "role_arn": "arn:aws:iam::333333333333:role/Deployer"},
    "ro": {"source_profile": "alice", "role_arn": "arn:aws:iam::222222222222:role/ReadOnly"},
    "bob": {"aws_access_key_id": "AKIABOB0000000000001"},
    "fed": {"source_profile": "alice", "stsdesk_federation_name": "alice-console"},
}


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def _tree(raw: dict[str, dict[str, Any]]) -> Any:
    return build_tree(raw, Path("/nonexistent/config"), Path("/nonexistent/credentials"))


def test_account_model_passes_qts_model_tester(qapp: object, qtmodeltester: Any, tmp_path: Path) -> None:
    clock = Clock()
    source = ProfileTreeModel(clock=clock)
    labels = AccountLabels(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    model = AccountTreeModel(source, labels)
    proxy = AccountFilterProxy()
    proxy.setSourceModel(model)
    qtmodeltester.check(model, force_py=False)
    qtmodeltester.check(proxy, force_py=False)

    tree = _tree(RAW)
    source.set_profiles(tree.roots(), tree.children, {"222222222222": "dev-account"})
    assert groups_shown(proxy) == {
        "111111111111": ["alice", "fed"],  # the federated user acts in its source user's account
        "dev-account (222222222222)": ["dev", "ro"],
        "333333333333": ["deployer"],
        "Account not known yet": ["bob"],
    }
    expiry = datetime.fromtimestamp(clock.now + 3600, UTC)
    for name in ("dev", "deployer", "ro"):
        source.set_session(name, expiry)
    source.set_busy("dev", True)
    source.set_error("ro", "AccessDenied: not allowed")
    clock.now += 61
    assert source.tick() == 3
    assert model.index_of("dev").siblingAtColumn(3).data() == "working…"
    # bob's account is learned from his session: his row moves out of the unknown group (a regroup).
    source.set_identity("bob", "arn:aws:iam::444444444444:user/bob")
    assert "444444444444" in groups_shown(proxy) and "Account not known yet" not in groups_shown(proxy)
    labels.set("222222222222", "#c62828", "prod-ish")
    assert model.group_index("222222222222").data() == "prod-ish · dev-account (222222222222)"
    for text in ("dev", "DEPLOY", "444444444444", "nothing matches", "dev-account", ""):
        proxy.set_filter_text(text)
    proxy.set_filter_text("readonly")
    assert groups_shown(proxy) == {"prod-ish · dev-account (222222222222)": ["ro"]}
    smaller = {name: values for name, values in RAW.items() if name != "dev"}
    smaller["new"] = {"source_profile": "bob", "role_arn": "arn:aws:iam::555555555555:role/New"}
    tree = _tree(smaller)
    source.set_profiles(tree.roots(), tree.children)  # a reload: rows gone and added, filter kept
    assert groups_shown(proxy) == {"prod-ish · 222222222222": ["ro"]}
    proxy.set_filter_text("")
    assert "555555555555" in groups_shown(proxy) and model.index_of("dev").isValid() is False
