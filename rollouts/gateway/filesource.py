"""The directory config source: manifests on disk, reloaded when a file changes.

Why this exists: ``rollouts gateway --config DIR`` must route traffic with no cluster
at all. Every ``*.yaml``/``*.yml``/``*.json`` under DIR is read (multi-document YAML
and ``kind: List`` allowed); Services get their endpoints from EndpointSlice
manifests. Changes are detected by polling (mtime, size, name) so it needs no inotify;
a file that does not parse keeps the previous snapshot in service.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

from rollouts.gateway.snapshot import Snapshot, build_snapshot

__all__ = ["ConfigError", "DirectorySource", "load_directory"]

log = logging.getLogger(__name__)
_SUFFIXES = (".yaml", ".yml", ".json")


class ConfigError(Exception):
    """A manifest file that cannot be read at all (names the file)."""


def _files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    return sorted(
        p for p in root.rglob("*")
        if p.suffix in _SUFFIXES and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )  # fmt: skip


def _documents(path: Path) -> Iterator[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
        docs = [json.loads(text)] if path.suffix == ".json" else list(yaml.safe_load_all(text))
    except (OSError, UnicodeDecodeError, yaml.YAMLError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    for doc in docs:
        if isinstance(doc, dict) and doc.get("kind") == "List":
            yield from (d for d in doc.get("items") or [] if isinstance(d, dict))
        elif isinstance(doc, dict):
            yield doc


def load_directory(root: str | Path) -> Snapshot:
    """Read every manifest under ``root`` into a Snapshot; raises ConfigError."""
    root = Path(root)
    if not root.exists():
        raise ConfigError(f"{root}: no such file or directory")
    objs: list[dict[str, Any]] = []
    for f in _files(root):
        objs.extend(_documents(f))
    return build_snapshot(objs)


class DirectorySource:
    """Polls a directory and hands each new Snapshot to ``apply``."""

    def __init__(self, root: str | Path, interval: float = 0.05) -> None:
        self.root = Path(root)
        self.interval = interval
        self._sig: tuple[tuple[str, int, int], ...] | None = None

    def signature(self) -> tuple[tuple[str, int, int], ...]:
        out = []
        for f in _files(self.root) if self.root.exists() else []:
            try:
                st = f.stat()
            except OSError:
                continue
            out.append((str(f), st.st_mtime_ns, st.st_size))
        return tuple(out)

    def load(self) -> Snapshot:
        self._sig = self.signature()
        return load_directory(self.root)

    async def run(
        self, apply: Callable[[Snapshot], Awaitable[None]],
        on_error: Callable[[Exception], None] | None = None,
    ) -> None:  # fmt: skip
        """Poll forever; call ``apply`` whenever the files changed and still parse."""
        while True:
            await asyncio.sleep(self.interval)
            sig = self.signature()
            if sig == self._sig:
                continue
            self._sig = sig
            try:
                snap = load_directory(self.root)
            except ConfigError as exc:
                log.warning("config not reloaded: %s", exc)
                if on_error is not None:
                    on_error(exc)
                continue
            await apply(snap)
