"""The Slack scopes purgebot's code needs, one place for ``manifest.yml``'s test and ``purgebot doctor``.

Slack answers a call whose scope was not granted with ``missing_scope`` — at the moment a request is
filed or approved, which is the worst time to find out. The manifest test proves that the manifest
asks for exactly these scopes (and that every Web API method the code calls is listed here);
``purgebot doctor`` compares them with the ones an installed token has, and the Slack stand-in
grants them by default and refuses a method whose scope it was told to withhold.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["COMMANDS_SCOPE", "NEEDED_SCOPES", "SCOPES_OF_METHOD", "scopes_of"]

# reference/slack.md §6 (scope ↔ method, from Slack's method docs): the methods purgebot calls. A
# method that works with public and private channels alike needs the scope for each kind the bot
# supports: requests may be filed in private channels, so both.
SCOPES_OF_METHOD: dict[str, frozenset[str]] = {
    "chat.postMessage": frozenset({"chat:write"}),
    "chat.update": frozenset({"chat:write"}),
    "chat.postEphemeral": frozenset({"chat:write"}),
    "usergroups.users.list": frozenset({"usergroups:read"}),
    "users.info": frozenset({"users:read"}),  # purgebot doctor: each approver exists and is active
    "conversations.info": frozenset({"channels:read", "groups:read"}),
    "conversations.members": frozenset({"channels:read", "groups:read"}),
    "conversations.history": frozenset({"channels:history", "groups:history"}),
    "conversations.replies": frozenset({"channels:history", "groups:history"}),
    "chat.getPermalink": frozenset(),
    "auth.test": frozenset(),
    "views.open": frozenset(),
    "views.update": frozenset(),
    "views.publish": frozenset(),
    # slack_sdk's helper: files.getUploadURLExternal, the upload, files.completeUploadExternal
    "files.upload.v2": frozenset({"files:write"}),
    "files.getUploadURLExternal": frozenset({"files:write"}),
    "files.completeUploadExternal": frozenset({"files:write"}),
}
COMMANDS_SCOPE = "commands"  # needed by slash_commands, not by any Web API method


def scopes_of(methods: Iterable[str]) -> frozenset[str]:
    """The scopes these methods need together (a method not listed needs none that is known)."""
    return frozenset().union(*(SCOPES_OF_METHOD.get(method, frozenset()) for method in methods))


NEEDED_SCOPES: frozenset[str] = scopes_of(SCOPES_OF_METHOD) | {COMMANDS_SCOPE}
