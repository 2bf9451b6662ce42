"""What a container runs in local mode: its command, or a known image mapped to one.

Local mode runs no containers. A container with ``command`` runs that command (with
``args``); a container without one runs the command its image maps to. The project's
demo app image ``rollouts-demo:VERSION`` maps to ``python -m rollouts.local.demoapp``.
``$(VAR)`` references in commands and args expand from the container's environment as
Kubernetes does.
"""

from __future__ import annotations

import re
import sys
from typing import Any

__all__ = ["ImageNotRunnable", "container_argv", "expand"]

_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)|\$\$")


class ImageNotRunnable(Exception):
    """The container has no command and its image is not one local mode knows."""


def expand(text: str, env: dict[str, str]) -> str:
    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1)
        return env.get(name, m.group(0))

    return _REF.sub(sub, text)


def _image_command(image: str, container: dict[str, Any]) -> list[str]:
    repo, _, tag = image.rpartition(":") if ":" in image.rsplit("/", 1)[-1] else (image, "", "")
    name = repo.rsplit("/", 1)[-1]
    if name == "rollouts-demo":
        ports = container.get("ports") or []
        port = str(ports[0].get("containerPort", 8080)) if ports else "8080"
        return [
            sys.executable,
            "-m",
            "rollouts.local.demoapp",
            "--app-version",
            tag or "latest",
            "--host",
            "$(POD_IP)",
            "--port",
            port,
        ]
    raise ImageNotRunnable(
        f"image {image!r} has no local command: local mode runs processes, not images; "
        "give the container a command"
    )


def container_argv(container: dict[str, Any], env: dict[str, str]) -> list[str]:
    command = list(container.get("command") or [])
    args = list(container.get("args") or [])
    if not command:
        command = _image_command(str(container.get("image", "")), container)
    return [expand(str(part), env) for part in command + args]
