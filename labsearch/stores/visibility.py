"""Visibility classes: the embedded store's way of never touching rows a caller cannot see.

Every distinct set of groups an asset carries is one *class* (a small integer, `vis`). Each
asset row and each of its side-table rows carries its class, and every index a non-operator's
query reads leads with `vis`. A caller's query is restricted to the classes that share a group
with the caller *before* anything else is looked up, so SQLite seeks only inside those classes:
a filter on an identifier another lab holds examines exactly what a filter on an identifier no
one holds examines (nothing), and a facet counts through the caller's rows alone. The work a
query does, and therefore its time, depends only on data the caller may see.

Tables (created by embedded.py's schema):
    visibility(vis, groups)          one row per class; `groups` is its sorted JSON group list
    visibility_groups(grp, vis)      which classes a group belongs to (a caller's classes are one
                                     index range per group, never a scan of other labs' classes)
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable

from labsearch.access import Access

# Tables whose rows carry the class of their asset (their `asset` column names it).
SIDE_TABLES = ("asset_identifiers", "asset_links", "asset_values")


def class_key(groups: Iterable[str]) -> str:
    """The canonical name of a group set: sorted, without duplicates or empty names."""
    return json.dumps(sorted({g for g in groups if g}), ensure_ascii=False)


class Classes:
    """Class ids by group set, for one write transaction: known ones are read, new ones are
    inserted (a class is never deleted: an empty class costs one row)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.known: dict[str, int] = {}

    def of(self, groups: Iterable[str]) -> int:
        key = class_key(groups)
        vis = self.known.get(key)
        if vis is None:
            query = "SELECT vis FROM visibility WHERE groups = ?"
            row = self.conn.execute(query, (key,)).fetchone()
            if row is None:
                vis = self.conn.execute(
                    "INSERT INTO visibility (groups) VALUES (?)", (key,)
                ).lastrowid
                self.conn.executemany(
                    "INSERT INTO visibility_groups (grp, vis) VALUES (?, ?)",
                    [(group, vis) for group in json.loads(key)],
                )
            else:
                (vis,) = row
            self.known[key] = vis
        return vis


def visible_classes(conn: sqlite3.Connection, access: Access) -> list[int] | None:
    """The classes `access` may see, read from the caller's own groups' index ranges; None for
    the operator, who sees every class."""
    if access.operator:
        return None
    groups = sorted(access.groups)
    if not groups:
        return []
    marks = ",".join("?" * len(groups))
    rows = conn.execute(
        f"SELECT DISTINCT vis FROM visibility_groups WHERE grp IN ({marks}) ORDER BY vis", groups
    )
    return [vis for (vis,) in rows]


def backfill(conn: sqlite3.Connection) -> None:
    """Give every stored asset and side-table row its class (an index written before classes
    existed; runs inside the caller's transaction)."""
    classes = Classes(conn)
    members: dict[int, list[str]] = {}
    for asset, group in conn.execute("SELECT asset, grp FROM asset_groups"):
        members.setdefault(asset, []).append(group)
    updates = [
        (classes.of(members.get(pk, [])), pk) for (pk,) in conn.execute("SELECT pk FROM assets")
    ]
    conn.executemany("UPDATE assets SET vis = ? WHERE pk = ?", updates)
    for table in SIDE_TABLES:
        conn.execute(
            f"UPDATE {table} SET vis = (SELECT a.vis FROM assets a WHERE a.pk = {table}.asset)"
        )
