"""``rollouts lint FILE...``: check manifests before they reach a cluster.

Every document of every file is read (multi-document YAML; ``-`` is stdin; a directory
means the ``*.yaml``/``*.yml`` files under it). Rollouts, AnalysisTemplates,
ClusterAnalysisTemplates and AnalysisRuns are checked against the schema and the semantic
rules, and every problem is printed with its file, object and field path::

    rollout.yaml: Rollout default/web: spec.strategy.canary.steps[1].setWeight: ...

Documents of other kinds (Services, HTTPRoutes, ...) are listed as not checked. The exit
code is 1 when anything is wrong, 0 otherwise.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import yaml

from rollouts.analysis.checks import manifest_problems
from rollouts.api.rollout import GROUP
from rollouts.api.validation import KINDS, Problem, object_label

__all__ = ["DocumentResult", "FileResult", "lint", "lint_paths", "lint_text"]

_SUFFIXES = (".yaml", ".yml")


@dataclass
class DocumentResult:
    """The verdict on one document of a file."""

    label: str
    problems: list[Problem] = field(default_factory=list)
    checked: bool = True
    note: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class FileResult:
    """Everything found in one file (or stdin)."""

    source: str
    documents: list[DocumentResult] = field(default_factory=list)
    error: str = ""

    @property
    def problem_count(self) -> int:
        return sum(len(d.problems) for d in self.documents) + (1 if self.error else 0)


def _is_ours(doc: dict[str, Any]) -> bool:
    api_version = doc.get("apiVersion")
    if isinstance(api_version, str) and api_version.split("/", 1)[0] == GROUP:
        return True
    # A kind of ours without an apiVersion is most likely ours with a mistake.
    return api_version is None and doc.get("kind") in KINDS


def _lint_document(doc: Any, index: int) -> DocumentResult | None:
    if doc is None:
        return None  # an empty document (a stray ---)
    if not isinstance(doc, dict):
        return DocumentResult(f"document {index + 1}",
                              [Problem("", "a manifest must be a mapping, not "
                                           f"{type(doc).__name__}")])
    label = object_label(doc)
    if not _is_ours(doc):
        api_version = doc.get("apiVersion") or "no apiVersion"
        return DocumentResult(label, checked=False,
                              note=f"not checked (apiVersion {api_version} is not {GROUP})")
    _, problems = manifest_problems(doc)
    return DocumentResult(label, problems)


def lint_text(text: str, source: str) -> FileResult:
    """Lint the YAML documents in ``text``; ``source`` names it in messages."""
    result = FileResult(source)
    try:
        for index, doc in enumerate(yaml.safe_load_all(text)):
            verdict = _lint_document(doc, index)
            if verdict is not None:
                result.documents.append(verdict)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        context = getattr(error, "context", None)
        detail = f"{problem} ({context})" if context else str(problem)
        result.error = f"invalid YAML: {where}{detail}"
    return result


def _expand(paths: Iterable[str]) -> Iterator[tuple[str, Path | None]]:
    for name in paths:
        if name == "-":
            yield name, None
            continue
        path = Path(name)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix in _SUFFIXES and p.is_file())
            for child in found:
                yield str(child), child
        else:
            yield name, path


def lint_paths(paths: Iterable[str], stdin: str | None = None) -> list[FileResult]:
    """Lint files, directories and ``-`` (whose text is ``stdin``)."""
    results: list[FileResult] = []
    for name, path in _expand(paths):
        if path is None:
            results.append(lint_text(stdin or "", "<stdin>"))
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            results.append(FileResult(name, error=f"cannot read: {error.strerror or error}"))
            continue
        except UnicodeDecodeError:
            results.append(FileResult(name, error="cannot read: not UTF-8 text"))
            continue
        results.append(lint_text(text, name))
    return results


def _report(results: list[FileResult], quiet: bool = False) -> int:
    problems = objects = skipped = bad_objects = 0
    for result in results:
        for doc in result.documents:
            if not doc.checked:
                skipped += 1
                if not quiet:
                    click.echo(f"{result.source}: {doc.label}: {doc.note}")
                continue
            objects += 1
            if doc.ok:
                if not quiet:
                    click.echo(f"{result.source}: {doc.label}: " + click.style("ok", fg="green"))
                continue
            bad_objects += 1
            for problem in doc.problems:
                problems += 1
                click.echo(f"{result.source}: {doc.label}: " + click.style(str(problem),
                                                                           fg="red"))
        if result.error:  # after the documents read before it
            click.echo(f"{result.source}: " + click.style(result.error, fg="red"))
            problems += 1
    files = len(results)
    summary = (f"{files} file{'s' * (files != 1)}, {objects} object{'s' * (objects != 1)} "
               f"checked, {skipped} not checked: ")
    if problems:
        summary += f"{problems} problem{'s' * (problems != 1)}"
        if bad_objects:
            summary += f" in {bad_objects} object{'s' * (bad_objects != 1)}"
        click.echo(click.style(summary, fg="red", bold=True))
    else:
        click.echo(click.style(summary + "no problems", fg="green", bold=True))
    return 1 if problems else 0


@click.command("lint")
@click.argument("files", nargs=-1, required=True)
@click.option("--quiet", "-q", is_flag=True,
              help="Print only problems and the summary, not objects that are fine.")
def lint(files: tuple[str, ...], quiet: bool) -> None:
    """Validate Rollout and analysis manifests in FILES (YAML; - for stdin; directories).

    Exit code 1 when any manifest has a problem.
    """
    stdin = click.get_text_stream("stdin").read() if "-" in files else None
    sys.exit(_report(lint_paths(files, stdin), quiet))
