"""Parse a condition into a small tree (Pratt parser); every error names its column.

Why this exists: the tree is the only thing the evaluator accepts, so what a condition
can do is exactly what these node types can do: no attribute access on Python objects,
no imports, no calls except the builtin functions listed in ``expr_functions``.
Precedence follows expr-lang, the language Argo Rollouts evaluates conditions with.
"""

from __future__ import annotations

import re

from rollouts.analysis.expr_ast import (
    Binary,
    Call,
    Closure,
    Conditional,
    Index,
    ListLiteral,
    Literal,
    MapLiteral,
    Member,
    Name,
    Node,
    Pointer,
    Slice,
    Unary,
)
from rollouts.analysis.expr_functions import CLOSURE_FUNCTIONS, FUNCTIONS
from rollouts.analysis.expr_lexer import ConditionSyntaxError, Token, tokenize

__all__ = ["MAX_DEPTH", "VARIABLES", "parse"]

MAX_DEPTH = 64
"""Deepest tree accepted: bounds the evaluator's recursion."""

VARIABLES = ("result",)


# binding powers (left); higher binds tighter
_INFIX = {
    "??": 5, "||": 10, "or": 10, "&&": 15, "and": 15,
    "==": 20, "!=": 20, "<": 20, ">": 20, "<=": 20, ">=": 20, "in": 20, "matches": 20,
    "contains": 20, "startsWith": 20, "endsWith": 20, "not": 20,
    "+": 30, "-": 30, "*": 60, "/": 60, "%": 60, "**": 100, "^": 100,
}  # fmt: skip
_RIGHT_ASSOC = {"**", "^", "??"}
_UNARY_POWER = 90
_CONSTANTS: dict[str, object] = {"true": True, "false": False, "nil": None, "null": None}
_KEYWORDS = {"and", "or", "not", "in", "matches", "contains", "startsWith", "endsWith"}


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = tokenize(source)
        self.pos = 0
        self.depth = 0
        self.closure_depth = 0

    def error(self, message: str, token: Token | None = None) -> ConditionSyntaxError:
        token = token or self.peek()
        return ConditionSyntaxError(message, token.position, self.source)

    def peek(self, offset: int = 0) -> Token:
        return self.tokens[min(self.pos + offset, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.tokens[self.pos]
        if token.kind != "end":
            self.pos += 1
        return token

    def expect(self, text: str) -> Token:
        token = self.peek()
        if token.kind != "op" or token.text != text:
            raise self.error(f"expected {text!r}, found {token.describe()}")
        return self.advance()

    def at_op(self, text: str) -> bool:
        token = self.peek()
        return token.kind == "op" and token.text == text

    def expression(self, min_power: int = 0) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"expression nests deeper than {MAX_DEPTH} levels")
        try:
            left = self.prefix()
            while True:
                token = self.peek()
                if token.kind == "op" and token.text == "?" and min_power <= 1:
                    self.advance()
                    then = self.expression(0)
                    self.expect(":")
                    otherwise = self.expression(1)
                    left = Conditional(left, then, otherwise, token.position)
                    continue
                op = token.text if token.kind in ("op", "name") else ""
                if op not in _INFIX or (token.kind == "name" and op not in _KEYWORDS):
                    break
                power = _INFIX[op]
                if power <= min_power:
                    break
                self.advance()
                if op == "not":
                    after = self.peek()
                    if not (after.kind == "name" and after.text == "in"):
                        raise self.error("expected 'in' after 'not'", after)
                    self.advance()
                    op = "not in"
                right = self.expression(power - 1 if op in _RIGHT_ASSOC else power)
                self.check_pattern(op, right)
                left = Binary(op, left, right, token.position)
                if _depth(left) > MAX_DEPTH:
                    raise self.error(f"expression nests deeper than {MAX_DEPTH} levels", token)
            return left
        finally:
            self.depth -= 1

    def check_pattern(self, op: str, right: Node) -> None:
        if op == "matches" and isinstance(right, Literal) and isinstance(right.value, str):
            try:
                re.compile(right.value)
            except re.error as error:
                raise ConditionSyntaxError(
                    f"invalid regular expression: {error}", right.position, self.source
                ) from None

    def prefix(self) -> Node:
        token = self.advance()
        if token.kind == "number" or token.kind == "string":
            return self.postfix(Literal(token.value, token.position))
        if token.kind == "name":
            if token.text in _CONSTANTS:
                return self.postfix(Literal(_CONSTANTS[token.text], token.position))
            if token.text == "not":
                return Unary("!", self.expression(_UNARY_POWER), token.position)
            if self.at_op("("):
                return self.postfix(self.call(token))
            if token.text in _KEYWORDS:
                raise self.error(f"unexpected {token.describe()}", token)
            if token.text not in VARIABLES:
                raise self.error(
                    f"unknown name {token.text!r} (the measured value is called 'result')",
                    token)
            return self.postfix(Name(token.text, token.position))
        if token.kind == "op":
            if token.text in ("!", "-", "+"):
                return Unary(token.text, self.expression(_UNARY_POWER), token.position)
            if token.text == "(":
                inner = self.expression(0)
                self.expect(")")
                return self.postfix(inner)
            if token.text == "#":
                if not self.closure_depth:
                    raise self.error("'#' is only allowed inside a predicate such as "
                                     "all(result, {# > 0})", token)
                return self.postfix(Pointer(token.position))
            if token.text == "." and self.closure_depth and self.peek().kind == "name":
                name = self.advance()
                return self.postfix(Member(Pointer(token.position), name.text, name.position))
            if token.text == "[":
                return self.postfix(self.list_literal(token))
            if token.text == "{":
                return self.postfix(self.map_literal(token))
        raise self.error(f"expected an expression, found {token.describe()}", token)

    def list_literal(self, start: Token) -> Node:
        items: list[Node] = []
        while not self.at_op("]"):
            items.append(self.expression(0))
            if not self.at_op(","):
                break
            self.advance()
        self.expect("]")
        return ListLiteral(tuple(items), start.position)

    def map_literal(self, start: Token) -> Node:
        items: list[tuple[Node, Node]] = []
        while not self.at_op("}"):
            key_token = self.peek()
            if key_token.kind in ("name", "string", "number"):
                self.advance()
                key: Node = Literal(key_token.value if key_token.kind != "name"
                                    else key_token.text, key_token.position)
            else:
                raise self.error(f"expected a map key, found {key_token.describe()}")
            self.expect(":")
            items.append((key, self.expression(0)))
            if not self.at_op(","):
                break
            self.advance()
        self.expect("}")
        return MapLiteral(tuple(items), start.position)

    def call(self, name: Token) -> Node:
        if name.text not in FUNCTIONS and name.text not in CLOSURE_FUNCTIONS:
            known = ", ".join(sorted({*FUNCTIONS, *CLOSURE_FUNCTIONS}))
            raise self.error(f"unknown function {name.text!r} (known: {known})", name)
        self.expect("(")
        args: list[Node] = []
        closure = name.text in CLOSURE_FUNCTIONS
        while not self.at_op(")"):
            if closure and len(args) == 1:
                args.append(self.closure())
            else:
                args.append(self.expression(0))
            if not self.at_op(","):
                break
            self.advance()
        self.expect(")")
        low, high = (2, 2) if closure else FUNCTIONS[name.text].arity
        if not low <= len(args) <= high:
            wanted = str(low) if low == high else f"{low} to {high}"
            raise self.error(f"{name.text}() takes {wanted} argument(s), got {len(args)}", name)
        return Call(name.text, tuple(args), name.position)

    def closure(self) -> Node:
        start = self.peek()
        self.closure_depth += 1
        try:
            if self.at_op("{"):
                self.advance()
                body = self.expression(0)
                self.expect("}")
            else:
                body = self.expression(0)
        finally:
            self.closure_depth -= 1
        return Closure(body, start.position)

    def postfix(self, node: Node) -> Node:
        while True:
            token = self.peek()
            if token.kind != "op":
                return node
            if token.text in (".", "?."):
                self.advance()
                name = self.advance()
                if name.kind == "name":
                    node = Member(node, name.text, name.position, token.text == "?.")
                else:
                    raise self.error(f"expected a field name, found {name.describe()}", name)
            elif token.text == "[":
                self.advance()
                node = self.subscript(node, token)
            else:
                return node
            if _depth(node) > MAX_DEPTH:
                raise self.error(f"expression nests deeper than {MAX_DEPTH} levels", token)

    def subscript(self, target: Node, token: Token) -> Node:
        start: Node | None = None
        if not self.at_op(":"):
            start = self.expression(0)
            if not self.at_op(":"):
                self.expect("]")
                return Index(target, start, token.position)
        self.expect(":")
        stop = None if self.at_op("]") else self.expression(0)
        self.expect("]")
        return Slice(target, start, stop, token.position)


def _children(node: Node) -> tuple[Node | None, ...]:
    match node:
        case Unary(operand=operand):
            return (operand,)
        case Binary(left=left, right=right):
            return (left, right)
        case Conditional(test=a, then=b, otherwise=c):
            return (a, b, c)
        case Index(target=a, index=b):
            return (a, b)
        case Slice(target=a, start=b, stop=c):
            return (a, b, c)
        case Member(target=a):
            return (a,)
        case Call(args=args):
            return args
        case Closure(body=body):
            return (body,)
        case ListLiteral(items=items):
            return items
        case MapLiteral(items=pairs):
            return tuple(n for pair in pairs for n in pair)
    return ()


def _depth(node: Node) -> int:
    """Height of the tree under ``node`` (iterative, so deep trees cannot overflow)."""
    best = 0
    stack: list[tuple[Node, int]] = [(node, 1)]
    while stack:
        current, level = stack.pop()
        best = max(best, level)
        if best > MAX_DEPTH:
            return best
        stack.extend((child, level + 1) for child in _children(current) if child is not None)
    return best


def parse(source: str) -> Node:
    """The tree of a condition, or ``ConditionSyntaxError`` naming the column."""
    parser = _Parser(source)
    if parser.peek().kind == "end":
        raise parser.error("empty condition")
    node = parser.expression(0)
    rest = parser.peek()
    if rest.kind != "end":
        raise parser.error(f"unexpected {rest.describe()} after a complete expression", rest)
    return node
