"""The ``search_covered`` table: which projects the search at execution has finished, per workspace.

The search runs beside the first deletes and may be cut short (a crash, LangSmith down); the next
attempt searches only the projects not recorded here. Items a cut-short project's search stored
before are kept: a second search of it finds them again and adds nothing.
"""

from __future__ import annotations

from sqlite_utils import Database


def covered(db: Database, request_id: int, workspace: str) -> set[str]:
    """The projects of ``workspace`` the request's search at execution has finished."""
    return {
        str(row[0])
        for row in db.execute(
            "SELECT project FROM search_covered WHERE request_id = ? AND workspace = ?", [request_id, workspace]
        )
    }


def cover(db: Database, request_id: int, workspace: str, project: str, *, at: str) -> None:
    """Record that the search of ``project`` finished (its items are stored); a second record is a no-op."""
    db.execute(
        "INSERT OR IGNORE INTO search_covered (request_id, workspace, project, at) VALUES (?, ?, ?, ?)",
        [request_id, workspace, project, at],
    )
