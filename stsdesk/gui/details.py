"""The details pane of the selected profile: its settings, its current session and its last error, as HTML."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication

from stsdesk.gui.profile_store import kind_label

if TYPE_CHECKING:
    from stsdesk.core.cache_entry import CachedSession
    from stsdesk.core.model import Profile


def _t(text: str) -> str:
    return QCoreApplication.translate("Details", text)


def details_html(
    profile: Profile,
    account: str,
    region: str,
    session: CachedSession | None,
    caller_arn: str | None,
    error: str | None,
) -> str:
    """The pane's HTML (every value escaped). ``account`` is the tree's Account text; ``region`` the Region
    row (see ``region_text``); ``session`` the cached
    session's metadata (never a secret); ``caller_arn`` what Who am I said; ``error`` the row's last error.
    No time left here: it would be frozen at the last rebuild (the countdown line above the pane counts)."""
    from html import escape as esc  # here: html.entities costs ~1.5 ms before the window's first paint

    rows: list[tuple[str, str]] = [("Kind", kind_label(profile))]
    if account:
        rows.append(("Account", account))
    if profile.role_arn:
        rows.append(("Role ARN", profile.role_arn))
    if len(profile.chain) > 1:
        rows.append(("Source chain", " → ".join(profile.chain)))
    rows.append(("Region", region))
    if profile.mfa_serial:
        rows.append(("MFA device", profile.mfa_serial))
    if profile.access_key_id:
        rows.append(("Access key ID", profile.access_key_id))
    for label, value in (("External ID", profile.external_id), ("Session name", profile.role_session_name),
                         ("Duration", profile.duration_seconds), ("Endpoint", profile.endpoint_url)):
        if value:
            rows.append((label, str(value)))
    current: list[tuple[str, str]] = []
    if session is not None:
        local = session.expiration.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
        current.append(("Expires", local))
        if session.identity_arn:
            current.append(("Session ARN", session.identity_arn))
        current.append(("Session kind", session.kind.value))
    if caller_arn:
        current.append(("Caller ARN", caller_arn))
    parts = [f"<h3>{esc(profile.name)}</h3><table cellspacing='4'>"]
    parts += [f"<tr><td><b>{esc(_t(k))}</b></td><td>{esc(v)}</td></tr>" for k, v in rows]
    parts.append(f"</table><h4>{esc(_t('Current session'))}</h4>")
    if current:
        parts.append("<table cellspacing='4'>")
        parts += [f"<tr><td><b>{esc(_t(k))}</b></td><td>{esc(v)}</td></tr>" for k, v in current]
        parts.append("</table>")
    else:
        parts.append(f"<p>{esc(_t('No session. Press Enter or double-click to assume.'))}</p>")
    if error:
        parts.append(f"<h4>{esc(_t('Last error'))}</h4><p style='color:#c62828'>{esc(error)}</p>")
    return "".join(parts)


def region_text(configured: str | None, default_region: str) -> str:
    """The Region row: the region the files or environment give the profile (core.region.configured_region:
    its own, else its nearest source's), else the default region, marked as such."""
    return configured or f"{default_region} (default)"
