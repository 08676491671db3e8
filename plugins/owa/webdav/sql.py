"""The subset of Exchange's SEARCH SQL the lab understands, parsed into a small tree.

Exchange 2000/2003 answered WebDAV SEARCH with its own SQL dialect. The lab
takes what folder listings and sync engines used::

    SELECT "DAV:href", "urn:schemas:httpmail:subject"
    FROM SCOPE('shallow traversal of "/exchange/alice/Inbox"')
    WHERE "DAV:ishidden" = false AND "http://schemas.microsoft.com/mapi/proptag/x67a40014" > 41
    ORDER BY "urn:schemas:httpmail:datereceived" DESC

* SELECT: double- or single-quoted property names, or ``*`` (all properties);
* FROM SCOPE: one or more ``shallow``/``hierarchical``/``deep traversal of "url"``;
* WHERE: ``= <> != < > <= >=``, ``LIKE 'pat%'``, ``IS [NOT] NULL``, ``AND``,
  ``OR``, ``NOT``, parentheses; literals are 'strings', numbers, ``TRUE``,
  ``FALSE`` and ``CAST("value" AS 'dateTime'|'boolean'|'int'|'string')``;
* ORDER BY: properties with ``ASC``/``DESC``.

Not understood (400 Bad Request): GROUP BY, CONTAINS/FREETEXT (full-text
search), RANKSEQUENCE, functions other than CAST.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Union

from plugins.owa.webdav.schemas import CHANGE_NUMBER, UnknownDataType, clark, parse_boolean, parse_time, parse_typed

_TOKEN = re.compile(r"""\s*(?:
      (?P<dq>"(?:[^"]|"")*")
    | (?P<sq>'(?:[^']|'')*')
    | (?P<num>-?\d+(?:\.\d+)?)
    | (?P<op><>|!=|<=|>=|=|<|>)
    | (?P<punct>[(),*])
    | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
    )""", re.VERBOSE)
_SCOPE = re.compile(r'\s*(shallow|deep|hierarchical)\s+traversal\s+of\s+"(.*)"\s*', re.IGNORECASE | re.DOTALL)


class SqlError(ValueError):
    """The query is outside the subset; the message says where."""


@dataclass(frozen=True)
class Scope:
    traversal: str  # "shallow", "hierarchical" or "deep"
    url: str  # as written; "" means the request URI


@dataclass(frozen=True)
class Comparison:
    prop: str  # Clark name
    op: str
    value: Any


@dataclass(frozen=True)
class Like:
    prop: str
    pattern: re.Pattern


@dataclass(frozen=True)
class IsNull:
    prop: str
    negated: bool


@dataclass(frozen=True)
class Not:
    operand: Expr


@dataclass(frozen=True)
class Junction:
    op: str  # "AND" or "OR"
    operands: tuple[Expr, ...]


Expr = Union[Comparison, Like, IsNull, Not, Junction]


@dataclass(frozen=True)
class Query:
    select: tuple[str, ...]  # Clark names; empty for SELECT *
    scopes: tuple[Scope, ...]
    where: Expr | None
    order_by: tuple[tuple[str, bool], ...]  # (Clark name, descending)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise SqlError(f"Unexpected text at {text[position:position + 20]!r}.")
        kind = match.lastgroup or ""
        tokens.append(_Token(kind, match.group(kind)))
        position = match.end()
    return tokens


def _unquote(token: _Token) -> str:
    quote = token.text[0]
    return token.text[1:-1].replace(quote * 2, quote)


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.position = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def next(self) -> _Token:
        token = self.peek()
        if token is None:
            raise SqlError("The query ends too early.")
        self.position += 1
        return token

    def keyword(self, *words: str) -> str | None:
        token = self.peek()
        if token is not None and token.kind == "word" and token.text.upper() in words:
            self.position += 1
            return token.text.upper()
        return None

    def expect_keyword(self, word: str) -> None:
        if self.keyword(word) is None:
            raise SqlError(f"Expected {word}.")

    def expect_punct(self, text: str) -> None:
        token = self.next()
        if token.text != text:
            raise SqlError(f"Expected {text!r}, found {token.text!r}.")

    def property_name(self) -> str:
        token = self.next()
        if token.kind not in ("dq", "sq"):
            raise SqlError(f"Expected a quoted property name, found {token.text!r}.")
        return clark(_unquote(token))

    # -- the statement -------------------------------------------------------------

    def query(self) -> Query:
        self.expect_keyword("SELECT")
        select: list[str] = []
        token = self.peek()
        if token is not None and token.text == "*":
            self.next()
        else:
            select.append(self.property_name())
            while self.peek() is not None and self.peek().text == ",":
                self.next()
                select.append(self.property_name())
        self.expect_keyword("FROM")
        scopes = self.scopes()
        where = None
        if self.keyword("WHERE"):
            where = self.disjunction()
        order: list[tuple[str, bool]] = []
        if self.keyword("ORDER"):
            self.expect_keyword("BY")
            while True:
                prop = self.property_name()
                order.append((prop, self.keyword("ASC", "DESC") == "DESC"))
                if self.peek() is None or self.peek().text != ",":
                    break
                self.next()
        if self.peek() is not None:
            raise SqlError(f"Unexpected {self.peek().text!r} after the query.")
        return Query(tuple(select), scopes, where, tuple(order))

    def scopes(self) -> tuple[Scope, ...]:
        self.expect_keyword("SCOPE")
        self.expect_punct("(")
        scopes = []
        while True:
            token = self.next()
            match = _SCOPE.fullmatch(_unquote(token)) if token.kind == "sq" else None
            if match is None:
                raise SqlError("SCOPE takes 'shallow|deep|hierarchical traversal of \"url\"'.")
            scopes.append(Scope(match.group(1).lower(), match.group(2)))
            if self.next().text == ")":
                return tuple(scopes)

    # -- conditions -----------------------------------------------------------------

    def disjunction(self) -> Expr:
        operands = [self.conjunction()]
        while self.keyword("OR"):
            operands.append(self.conjunction())
        return operands[0] if len(operands) == 1 else Junction("OR", tuple(operands))

    def conjunction(self) -> Expr:
        operands = [self.negation()]
        while self.keyword("AND"):
            operands.append(self.negation())
        return operands[0] if len(operands) == 1 else Junction("AND", tuple(operands))

    def negation(self) -> Expr:
        if self.keyword("NOT"):
            return Not(self.negation())
        token = self.peek()
        if token is not None and token.text == "(":
            self.next()
            inner = self.disjunction()
            self.expect_punct(")")
            return inner
        return self.predicate()

    def predicate(self) -> Expr:
        prop = self.property_name()
        if self.keyword("IS"):
            negated = self.keyword("NOT") is not None
            self.expect_keyword("NULL")
            return IsNull(prop, negated)
        negated = self.keyword("NOT") is not None
        if self.keyword("LIKE"):
            token = self.next()
            if token.kind != "sq":
                raise SqlError("LIKE takes a 'quoted pattern'.")
            like = Like(prop, _like_pattern(_unquote(token)))
            return Not(like) if negated else like
        if negated:
            raise SqlError("NOT must precede LIKE here.")
        token = self.next()
        if token.kind != "op":
            raise SqlError(f"Expected a comparison after the property, found {token.text!r}.")
        return Comparison(prop, "<>" if token.text == "!=" else token.text, self.literal())

    def literal(self) -> Any:
        token = self.next()
        if token.kind in ("sq", "dq"):
            return _unquote(token)
        if token.kind == "num":
            return float(token.text) if "." in token.text else int(token.text)
        word = token.text.upper() if token.kind == "word" else ""
        if word in ("TRUE", "FALSE"):
            return word == "TRUE"
        if word == "CAST":
            self.expect_punct("(")
            value = self.literal()
            self.expect_keyword("AS")
            type_token = self.next()
            self.expect_punct(")")
            return _cast(value, _unquote(type_token) if type_token.kind in ("sq", "dq") else type_token.text)
        raise SqlError(f"Expected a value, found {token.text!r}.")


def _like_pattern(pattern: str) -> re.Pattern:
    parts = ["." if c == "_" else ".*" if c == "%" else re.escape(c) for c in pattern]
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def _cast(value: Any, type_name: str) -> Any:
    text = str(value)
    try:
        return parse_typed(type_name, text)
    except UnknownDataType:
        raise SqlError(f"CAST to {type_name!r} is not supported.") from None
    except ValueError:
        raise SqlError(f"Cannot CAST {text!r} as {type_name!r}.") from None


def parse(text: str) -> Query:
    """Parse one SEARCH statement; :class:`SqlError` names what is outside the subset."""
    return _Parser(text).query()


# --- evaluation -------------------------------------------------------------------------


def _comparable(value: Any, literal: Any) -> tuple[Any, Any] | None:
    """Both sides in one type, as Exchange coerced them; None when they cannot meet."""
    if isinstance(value, bool) or isinstance(literal, bool):
        if isinstance(literal, str):
            literal = parse_boolean(literal)
        return (int(value), int(literal)) if isinstance(value, (bool, int)) and literal is not None else None
    if isinstance(value, datetime):
        try:
            return value, literal if isinstance(literal, datetime) else parse_time(str(literal))
        except ValueError:
            return None
    if isinstance(value, (int, float)):
        try:
            return value, float(literal) if not isinstance(literal, (int, float)) else literal
        except ValueError:
            return None
    return str(value).casefold(), str(literal).casefold()


_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "<>": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
}


def matches(expr: Expr | None, value_of: Callable[[str], Any]) -> bool:
    """Whether a row passes the WHERE clause; a missing property (None) compares false."""
    if expr is None:
        return True
    if isinstance(expr, Junction):
        results = (matches(operand, value_of) for operand in expr.operands)
        return all(results) if expr.op == "AND" else any(results)
    if isinstance(expr, Not):
        return not matches(expr.operand, value_of)
    value = value_of(expr.prop)
    if isinstance(expr, IsNull):
        return (value is None) != expr.negated
    if value is None:
        return False
    if isinstance(expr, Like):
        return expr.pattern.fullmatch(str(value)) is not None
    pair = _comparable(value, expr.value)
    return pair is not None and _OPERATORS[expr.op](*pair)


def changed_since(expr: Expr | None) -> int | None:
    """N when the WHERE clause requires ``PidTagChangeNumber > N`` (or ``>= N+1``) at top level.

    Such a query is answered from the store's change list instead of reading
    the whole folder, so "what changed since N" costs what changed.
    """
    conjuncts = expr.operands if isinstance(expr, Junction) and expr.op == "AND" else (expr,)
    for term in conjuncts:
        if isinstance(term, Comparison) and term.prop == CHANGE_NUMBER and isinstance(term.value, int) \
                and not isinstance(term.value, bool) and term.op in (">", ">="):
            return term.value if term.op == ">" else term.value - 1
    return None
