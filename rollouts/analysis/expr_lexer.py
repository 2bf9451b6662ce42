"""Tokens of the condition language, each with its offset in the source.

Why this exists: conditions (``result[0] >= 0.95 && len(result) > 0``) are parsed into
a tree we evaluate ourselves, never handed to Python's ``eval``. The lexer is the first
half of that: it accepts the spellings Argo Rollouts users write (expr-lang syntax:
``&&``/``and``, ``!``/``not``, ``'single'`` and ``"double"`` strings, ``nil``, ``#``
in predicates) and reports anything else with its position.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["MAX_LENGTH", "ConditionSyntaxError", "Token", "tokenize"]

MAX_LENGTH = 4096
"""Longest condition accepted; longer ones are a syntax error (bounds parse and eval work)."""

TokenKind = Literal["number", "string", "name", "op", "end"]

_OPERATORS = (
    "**", "==", "!=", "<=", ">=", "&&", "||", "??", "?.",
    "+", "-", "*", "/", "%", "^", "<", ">", "!", "(", ")", "[", "]", "{", "}",
    ",", ".", ":", "?", "#",
)  # fmt: skip
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "0": "\0"}


class ConditionSyntaxError(ValueError):
    """A condition that does not parse; ``position`` is the 0-based offset of the problem."""

    def __init__(self, message: str, position: int, source: str = "") -> None:
        self.reason = message
        self.position = position
        self.source = source
        super().__init__(f"{message} at column {position + 1}")


@dataclass(frozen=True, slots=True)
class Token:
    kind: TokenKind
    text: str
    position: int
    value: object = None

    def describe(self) -> str:
        return "end of input" if self.kind == "end" else repr(self.text)


def _number(source: str, start: int) -> tuple[Token, int]:
    i = start
    n = len(source)
    if source.startswith(("0x", "0X"), i):
        j = i + 2
        while j < n and (source[j] in "0123456789abcdefABCDEF_"):
            j += 1
        text = source[i:j]
        try:
            return Token("number", text, start, int(text.replace("_", ""), 16)), j
        except ValueError:
            raise ConditionSyntaxError(f"invalid number {text!r}", start, source) from None
    while i < n and (source[i].isdigit() or source[i] == "_"):
        i += 1
    is_float = False
    if i + 1 < n and source[i] == "." and source[i + 1].isdigit():
        is_float = True
        i += 1
        while i < n and (source[i].isdigit() or source[i] == "_"):
            i += 1
    if i < n and source[i] in "eE":
        j = i + 1
        if j < n and source[j] in "+-":
            j += 1
        if j < n and source[j].isdigit():
            is_float = True
            i = j
            while i < n and source[i].isdigit():
                i += 1
    text = source[start:i]
    clean = text.replace("_", "")
    try:
        value: object = float(clean) if is_float else int(clean)
    except ValueError:
        raise ConditionSyntaxError(f"invalid number {text!r}", start, source) from None
    if i < n and (source[i].isalpha() or source[i] == "_"):
        raise ConditionSyntaxError(f"invalid number {source[start:i + 1]!r}", start, source)
    return Token("number", text, start, value), i


def _string(source: str, start: int) -> tuple[Token, int]:
    quote = source[start]
    i = start + 1
    out: list[str] = []
    while i < len(source):
        ch = source[i]
        if ch == quote:
            return Token("string", source[start:i + 1], start, "".join(out)), i + 1
        if ch == "\\":
            if i + 1 >= len(source):
                break
            esc = source[i + 1]
            if esc in _ESCAPES:
                out.append(_ESCAPES[esc])
                i += 2
                continue
            if esc == "u" and i + 6 <= len(source):
                digits = source[i + 2:i + 6]
                if all(c in "0123456789abcdefABCDEF" for c in digits):
                    out.append(chr(int(digits, 16)))
                    i += 6
                    continue
            if esc in ".*+?()[]{}|^$dDwWsSbB-/":
                # regular-expression escapes written in single backslash form stay as they are
                out.append("\\" + esc)
                i += 2
                continue
            raise ConditionSyntaxError(f"invalid escape \\{esc} in string", i, source)
        out.append(ch)
        i += 1
    raise ConditionSyntaxError("unterminated string", start, source)


def tokenize(source: str) -> list[Token]:
    """All tokens of ``source``, ending with an ``end`` token."""
    if len(source) > MAX_LENGTH:
        raise ConditionSyntaxError(
            f"condition is longer than {MAX_LENGTH} characters", MAX_LENGTH, source)
    tokens: list[Token] = []
    i = 0
    n = len(source)
    while i < n:
        ch = source[i]
        if ch in " \t\r\n":
            i += 1
            continue
        if ch.isdigit() and ch.isascii():
            token, i = _number(source, i)
        elif ch in "'\"`":
            if ch == "`":
                end = source.find("`", i + 1)
                if end < 0:
                    raise ConditionSyntaxError("unterminated string", i, source)
                token, i = Token("string", source[i:end + 1], i, source[i + 1:end]), end + 1
            else:
                token, i = _string(source, i)
        elif (ch.isalpha() and ch.isascii()) or ch in "_$":
            j = i + 1
            while j < n and ((source[j].isalnum() and source[j].isascii()) or source[j] in "_$"):
                j += 1
            token, i = Token("name", source[i:j], i), j
        else:
            for op in _OPERATORS:
                if source.startswith(op, i):
                    token, i = Token("op", op, i), i + len(op)
                    break
            else:
                raise ConditionSyntaxError(f"unexpected character {ch!r}", i, source)
        tokens.append(token)
    tokens.append(Token("end", "", n))
    return tokens
