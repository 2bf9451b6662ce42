"""Object storage for the embedded API server: in memory, optionally backed by SQLite.

Every object lives under ``(key, namespace, name)`` where ``key`` is ``group/plural``.
One counter gives every change a new, increasing ``resourceVersion``. Recent changes
are kept in a bounded log so that watches can resume from a resourceVersion; a version
older than the log answers ``410 Gone``. With a ``path`` the objects are written through
to SQLite (stdlib ``sqlite3``) and loaded again on start, so a restarted server keeps
them; the change log starts afresh.
"""

from __future__ import annotations

import asyncio
import copy
import json
import sqlite3
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rollouts.local.errors import expired

__all__ = ["Change", "Store", "Subscription"]

Obj = dict[str, Any]


@dataclass(frozen=True)
class Change:
    """One change: ``type`` is ADDED, MODIFIED or DELETED."""

    rv: int
    key: str
    type: str
    obj: Obj


class Subscription:
    """A live feed of the changes to one resource key."""

    def __init__(self, store: Store, key: str) -> None:
        self._store = store
        self.key = key
        self.queue: asyncio.Queue[Change | None] = asyncio.Queue()

    def close(self) -> None:
        self._store._subs.discard(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Store:
    """Objects plus a change log and subscribers; not thread-safe (one event loop)."""

    def __init__(self, path: str | Path | None = None, log_size: int = 20000) -> None:
        self._objects: dict[str, dict[tuple[str, str], Obj]] = {}
        self._log: deque[Change] = deque(maxlen=log_size)
        self._subs: set[Subscription] = set()
        self._rv = 0
        self._db: sqlite3.Connection | None = None
        # While set (dry-run requests), writes are computed and returned but not stored.
        self.dry_run = False
        if path is not None:
            self._db = sqlite3.connect(str(path), isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS objects (key TEXT, namespace TEXT, name TEXT,"
                " data TEXT, PRIMARY KEY (key, namespace, name))"
            )
            self._db.execute("CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT)")
            row = self._db.execute("SELECT v FROM meta WHERE k='rv'").fetchone()
            self._rv = int(row[0]) if row else 0
            for key, ns, name, data in self._db.execute(
                "SELECT key, namespace, name, data FROM objects"
            ):
                self._objects.setdefault(key, {})[(ns, name)] = json.loads(data)
        # The oldest resourceVersion a watch may resume from.
        self._log_start = self._rv

    @property
    def rv(self) -> int:
        return self._rv

    def end_watches(self) -> None:
        """Tell every subscriber that no more changes will come."""
        for sub in list(self._subs):
            sub.queue.put_nowait(None)
        self._subs.clear()

    def close(self) -> None:
        self.end_watches()
        if self._db is not None:
            self._db.close()
            self._db = None

    # -- reads -------------------------------------------------------------------------

    def get(self, key: str, namespace: str, name: str) -> Obj | None:
        obj = self._objects.get(key, {}).get((namespace, name))
        return copy.deepcopy(obj) if obj is not None else None

    def peek(self, key: str, namespace: str, name: str) -> Obj | None:
        """Like :meth:`get` but without a copy: the caller must not modify the result."""
        return self._objects.get(key, {}).get((namespace, name))

    def items(self, key: str, namespace: str | None = None) -> list[Obj]:
        items = self._objects.get(key, {})
        out = [
            copy.deepcopy(obj)
            for (ns, _name), obj in sorted(items.items())
            if namespace is None or ns == namespace
        ]
        return out

    def iter_all(self) -> Iterator[tuple[str, Obj]]:
        """Every stored object (not copied) with its key."""
        for key, items in list(self._objects.items()):
            for obj in list(items.values()):
                yield key, obj

    def keys(self) -> list[str]:
        return list(self._objects)

    # -- writes ------------------------------------------------------------------------

    def next_rv(self) -> int:
        self._rv += 1
        return self._rv

    def put(self, key: str, obj: Obj, event: str) -> Obj:
        """Store ``obj`` (its resourceVersion is set here) and publish ``event``."""
        if self.dry_run:
            return copy.deepcopy(obj)
        rv = self.next_rv()
        meta = obj.setdefault("metadata", {})
        meta["resourceVersion"] = str(rv)
        ident = (meta.get("namespace", ""), meta["name"])
        stored = copy.deepcopy(obj)
        self._objects.setdefault(key, {})[ident] = stored
        if self._db is not None:
            self._db.execute(
                "INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?)",
                (key, ident[0], ident[1], json.dumps(stored)),
            )
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('rv', ?)", (str(rv),))
        self._publish(Change(rv, key, event, stored))
        return copy.deepcopy(stored)

    def remove(self, key: str, obj: Obj) -> Obj:
        """Delete ``obj``; the DELETED event carries it with a new resourceVersion."""
        if self.dry_run:
            return copy.deepcopy(obj)
        meta = obj["metadata"]
        ident = (meta.get("namespace", ""), meta["name"])
        self._objects.get(key, {}).pop(ident, None)
        rv = self.next_rv()
        final = copy.deepcopy(obj)
        final["metadata"]["resourceVersion"] = str(rv)
        if self._db is not None:
            self._db.execute(
                "DELETE FROM objects WHERE key=? AND namespace=? AND name=?",
                (key, ident[0], ident[1]),
            )
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('rv', ?)", (str(rv),))
        self._publish(Change(rv, key, "DELETED", final))
        return copy.deepcopy(final)

    def _publish(self, change: Change) -> None:
        self._log.append(change)
        for sub in list(self._subs):
            if sub.key == change.key:
                sub.queue.put_nowait(change)

    # -- watches -----------------------------------------------------------------------

    def subscribe(self, key: str) -> Subscription:
        sub = Subscription(self, key)
        self._subs.add(sub)
        return sub

    def changes_since(self, key: str, rv: int) -> list[Change]:
        """Changes to ``key`` after ``rv``; ``410 Expired`` when the log no longer has them."""
        oldest = self._log[0].rv - 1 if self._log else self._rv
        oldest = max(oldest, self._log_start)
        if rv < oldest:
            raise expired(f"too old resource version: {rv} ({oldest})")
        return [c for c in self._log if c.rv > rv and c.key == key]
