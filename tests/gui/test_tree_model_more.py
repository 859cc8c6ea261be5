"""Account labels: aliases for roles and for IAM users whose account is only known from their session."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QModelIndex

from stsdesk.core.profiles import build_tree
from stsdesk.gui.filter_proxy import ProfileFilterProxy
from stsdesk.gui.tree_model import ACCOUNT, FILTER_ROLE, ProfileTreeModel, account_in_arn

RAW = {
    "bob": {"stsdesk_access_key_id": "AKIADEMOBOB000000001"},  # no MFA device: no account in the config
    "bob-admin": {"source_profile": "bob", "role_arn": "arn:aws:iam::333333333333:role/Admin"},
}
ALIASES = {"111111111111": "identity", "333333333333": "prod"}


def make_model() -> ProfileTreeModel:
    model = ProfileTreeModel()
    tree = build_tree(RAW, Path("/nonexistent/config"), Path("/nonexistent/credentials"))
    model.set_profiles(tree.roots(), tree.children, ALIASES)
    return model


def test_account_in_arn() -> None:
    assert account_in_arn("arn:aws:sts::111111111111:assumed-role/Dev/alice") == "111111111111"
    assert account_in_arn("arn:aws-cn:iam::222222222222:user/bob") == "222222222222"
    assert account_in_arn("arn:aws:s3:::bucket") is None
    assert account_in_arn("arn:aws:iam::12345:user/x") is None
    assert account_in_arn(None) is None and account_in_arn("not an arn") is None


def test_iam_user_gets_its_alias_once_its_account_is_known(qapp: object) -> None:
    model = make_model()
    cell = model.index_of("bob", ACCOUNT)
    assert cell.data() == ""
    assert model.index_of("bob-admin", ACCOUNT).data() == "prod (333333333333)"  # a role: from its ARN
    changed: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda a, b, roles=(): changed.append((a.column(), b.column())))

    model.set_identity("bob", "arn:aws:iam::111111111111:user/bob")  # GetCallerIdentity / session ARN
    assert cell.data() == "identity (111111111111)"
    assert changed == [(ACCOUNT, ACCOUNT)]
    assert "identity (111111111111)" in model.index_of("bob").data(FILTER_ROLE)
    proxy = ProfileFilterProxy()
    proxy.setSourceModel(model)
    proxy.set_filter_text("identity")
    assert proxy.rowCount() == 1 and proxy.index(0, 0, QModelIndex()).data() == "bob"

    model.set_identity("bob", "arn:aws:iam::111111111111:user/bob")  # same again: nothing to repaint
    model.set_identity("bob", "garbage")  # no account in it: ignored
    model.set_identity("nobody", "arn:aws:iam::111111111111:user/x")
    assert len(changed) == 1 and cell.data() == "identity (111111111111)"


def test_config_account_wins_and_learned_account_survives_reload(qapp: object) -> None:
    model = make_model()
    model.set_identity("bob-admin", "arn:aws:sts::999999999999:assumed-role/Admin/s")
    assert model.index_of("bob-admin", ACCOUNT).data() == "prod (333333333333)"  # the role ARN says where
    model.set_identity("bob", "arn:aws:iam::444444444444:user/bob")
    assert model.index_of("bob", ACCOUNT).data() == "444444444444"  # no alias known: just the id
    tree = build_tree(RAW, Path("/nonexistent/config"), Path("/nonexistent/credentials"))
    model.set_profiles(tree.roots(), tree.children, {**ALIASES, "444444444444": "sandbox"})
    assert model.index_of("bob", ACCOUNT).data() == "sandbox (444444444444)"


def test_leaves_never_have_children_and_parents_can_expand(qapp: object) -> None:
    from PySide6.QtCore import Qt

    model = make_model()
    bob, admin = model.index_of("bob"), model.index_of("bob-admin")
    never = Qt.ItemFlag.ItemNeverHasChildren
    assert not model.flags(bob) & never and model.hasChildren(bob)
    assert model.flags(admin) & never and not model.hasChildren(admin)
    assert model.flags(QModelIndex()) == Qt.ItemFlag.NoItemFlags and model.hasChildren(QModelIndex())
    assert model.parent_names() == ["bob"]
    # Invalid and out-of-range requests give invalid indexes, not another row.
    assert not model.index(1, 0).isValid() and not model.index(0, 5).isValid() and not model.index(-1, 0).isValid()
    assert not model.index(0, 0, model.index_of("bob", ACCOUNT)).isValid()
    assert model.rowCount(model.index_of("bob", ACCOUNT)) == 0
    assert model.data(QModelIndex()) is None


def test_sibling_moves_along_the_row(qapp: object) -> None:
    model = make_model()
    admin = model.index_of("bob-admin")
    cell = model.sibling(admin.row(), ACCOUNT, admin)
    assert cell == model.index_of("bob-admin", ACCOUNT)
    assert cell.data() == "prod (333333333333)"
    assert admin.siblingAtColumn(ACCOUNT).parent() == model.index_of("bob")
    assert model.sibling(0, 0, model.index_of("bob")) == model.index_of("bob")
