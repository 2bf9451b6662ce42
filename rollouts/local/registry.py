"""Which resource types are served right now: the built-ins plus every established CRD."""

from __future__ import annotations

from typing import Any

from rollouts.local.resources import BUILTIN_TYPES, ResourceType, types_from_crd

__all__ = ["Registry"]


class Registry:
    """Lookup of served resource types by group/version/plural and by storage key."""

    def __init__(self) -> None:
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        self._crd_types: dict[str, list[ResourceType]] = {}
        self.generation = 0
        # Documents derived from the served types (OpenAPI), valid for one generation.
        self.cache: dict[Any, Any] = {}
        for rt in BUILTIN_TYPES:
            self._types[(rt.group, rt.version, rt.plural)] = rt

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._types.get((group, version, plural))

    def by_key(self, key: str) -> list[ResourceType]:
        return [rt for rt in self._types.values() if rt.key == key]

    def storage_type(self, key: str) -> ResourceType | None:
        types = self.by_key(key)
        for rt in types:
            if rt.storage:
                return rt
        return types[0] if types else None

    def all(self) -> list[ResourceType]:
        return list(self._types.values())

    def group_versions(self) -> dict[str, list[str]]:
        """Served versions per group, the preferred (storage) version first."""
        out: dict[str, list[str]] = {}
        for rt in self._types.values():
            versions = out.setdefault(rt.group, [])
            if rt.version not in versions:
                if rt.storage:
                    versions.insert(0, rt.version)
                else:
                    versions.append(rt.version)
        return out

    def add_crd(self, crd: dict[str, Any]) -> None:
        name = crd["metadata"]["name"]
        self.remove_crd(name)
        types = types_from_crd(crd)
        self._crd_types[name] = types
        for rt in types:
            self._types[(rt.group, rt.version, rt.plural)] = rt
        self.generation += 1
        self.cache.clear()

    def remove_crd(self, name: str) -> list[ResourceType]:
        types = self._crd_types.pop(name, [])
        for rt in types:
            self._types.pop((rt.group, rt.version, rt.plural), None)
        if types:
            self.generation += 1
            self.cache.clear()
        return types
