"""DuckDB SQL to Spark SQL: the one copy of each query, translated, never rewritten by hand.

Every transformation is written once, in DuckDB's dialect. SQLGlot parses it and writes
Spark SQL; the few constructs it passes through unchanged because Spark has no
counterpart are rewritten here as equivalent portable SQL (see docs/assumptions.md,
"Engines"):

- ASOF JOIN (each left row with the latest right row at or before it) becomes a range
  join on the right rows' validity interval [effective, next effective).
- AS MATERIALIZED (a DuckDB hint to compute a CTE once) is dropped.
- INTERVAL (n) MONTH takes its count as a literal.
- list_slice, list[a:b], list_sum, len() of a list, epoch(a - b), quantile_cont(x, p) and
  round_even become Spark's slice, size, aggregate, unix_micros, percentile and bround.
- CAST(unnest(list) AS T) casts the list (Spark has no generator inside an expression).
- format() templates ({} and {:,.2f}) become format_string's (%s and %,.2f).
- Several unnests in one SELECT zip their lists (inline(arrays_zip(...))), as DuckDB does.
- A decimal literal is a DOUBLE, so arithmetic on it is floating point in both engines.
- Placeholders (`?`) become literals of the Python values bound to them.
- Table names that are not CTEs are mapped to the temporary views the caller registered.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence

import sqlglot
from sqlglot import exp

READ, WRITE = "duckdb", "spark"
NEXT_SUFFIX = "__asof_next"


class TranslationError(ValueError):
    """A query uses a construct the Spark engine cannot run."""


def literal(value: object) -> exp.Expression:
    """A Python value as a SQL literal (a list as an array)."""
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, dt.datetime):
        return exp.cast(exp.Literal.string(value.isoformat(sep=" ")), "TIMESTAMP")
    if isinstance(value, dt.date):
        return exp.cast(exp.Literal.string(value.isoformat()), "DATE")
    if isinstance(value, int | float):
        return exp.Literal.number(repr(value))
    if isinstance(value, str):
        return exp.Literal.string(value)
    if isinstance(value, Sequence):
        return exp.Array(expressions=[literal(v) for v in value])
    raise TranslationError(f"cannot bind a {type(value).__name__} as a SQL literal")


def _bind(tree: exp.Expression, params: Sequence[object]) -> exp.Expression:
    values = iter(params)

    def replace(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Placeholder):
            return literal(next(values))
        return node

    return tree.transform(replace)


def _asof_condition(
    on: exp.Expression, right: str
) -> tuple[exp.Expression, exp.Expression, exp.Column, list[exp.Column], bool]:
    """An ASOF join's condition taken apart: its equalities, the left value and the right
    column of its inequality, and the right side's key columns."""
    parts = list(on.flatten()) if isinstance(on, exp.And) else [on]
    inequalities = [p for p in parts if isinstance(p, exp.GTE | exp.LTE | exp.GT | exp.LT)]
    if len(inequalities) != 1:
        raise TranslationError("an ASOF join needs exactly one inequality condition")
    (ineq,) = inequalities
    # the right side's column is the lesser one: left >= right.col (or right.col <= left)
    big, small = (
        (ineq.this, ineq.expression)
        if isinstance(ineq, exp.GTE | exp.GT)
        else (ineq.expression, ineq.this)
    )
    if not (isinstance(small, exp.Column) and small.table == right):
        raise TranslationError(
            "an ASOF join's inequality must compare a left value >= a right column"
        )
    equalities = [p for p in parts if p is not ineq]
    keys = [
        side
        for p in equalities
        for side in (p.this, p.expression)
        if isinstance(side, exp.Column) and side.table == right
    ]
    strict = isinstance(ineq, exp.GT | exp.LT)
    return exp.and_(*equalities) if equalities else exp.true(), big, small, keys, strict


def _rewrite_asof(join: exp.Join) -> exp.Join:
    """ASOF [LEFT] JOIN t r ON r.k = l.k AND l.d >= r.e  ->  [LEFT] JOIN (t with the next
    e per k) r ON r.k = l.k AND l.d >= r.e AND (r.next IS NULL OR l.d < r.next); with a
    strict l.d > r.e, the interval is (r.e, r.next]. Of tied right rows the last matches."""
    table = join.this
    alias = table.alias_or_name
    equal, big, small, keys, strict = _asof_condition(join.args["on"], alias)
    after, before = (exp.GT, exp.LTE) if strict else (exp.GTE, exp.LT)
    next_col = small.name + NEXT_SUFFIX
    partition = ", ".join(k.name for k in keys)
    inner = table.copy()
    inner.set("alias", None)
    ordered = (
        f"lead({small.name}) OVER ("
        + (f"PARTITION BY {partition} " if partition else "")
        + f"ORDER BY {small.name}) AS {next_col}"
    )
    source = exp.select("*", sqlglot.parse_one(ordered, read=READ)).from_(inner)
    subquery = exp.Subquery(this=source, alias=exp.TableAlias(this=exp.to_identifier(alias)))
    upper = exp.column(next_col, table=alias)
    condition = exp.and_(
        equal,
        after(this=big.copy(), expression=small.copy()),
        exp.or_(
            exp.Is(this=upper, expression=exp.Null()),
            before(this=big.copy(), expression=upper.copy()),
        ),
    )
    side = join.args.get("side")
    return exp.Join(this=subquery, on=condition, side=side)


def _spark(sql: str) -> exp.Expression:
    return sqlglot.parse_one(sql, read=WRITE)


def _slice(array: exp.Expression, begin: exp.Expression, end: exp.Expression) -> exp.Expression:
    """DuckDB's 1-based inclusive [begin, end] slice as Spark's slice(array, begin, length)."""
    return exp.Anonymous(
        this="SLICE",
        expressions=[
            array,
            begin,
            exp.Greatest(
                this=exp.Paren(
                    this=exp.Sub(
                        this=exp.Add(this=end, expression=exp.Literal.number(1)),
                        expression=begin.copy(),
                    )
                ),
                expressions=[exp.Literal.number(0)],
            ),
        ],
    )


FMT_FIELD = re.compile(r"\{\{|\}\}|\{(?::(,?)\.(\d+)f)?\}|%")


def _format(node: exp.Format) -> exp.Expression:
    """DuckDB's format('{} and {:,.2f}', a, b) as Spark's format_string('%s and %,.2f', a,
    bround(b, 2)): a number is rounded half to even first, as DuckDB's formatting does."""
    template = node.this
    if not isinstance(template, exp.Literal):
        raise TranslationError("format() needs a literal template for the Spark engine")
    args, out = list(node.expressions), []
    pieces, position, index = [], 0, 0
    for match in FMT_FIELD.finditer(template.name):
        pieces.append(template.name[position : match.start()])
        token = match.group(0)
        if token in ("{{", "}}"):
            pieces.append(token[0])
        elif token == "%":
            pieces.append("%%")
        else:
            grouping, digits = match.group(1), match.group(2)
            arg = args[index]
            index += 1
            if digits is None:
                pieces.append("%s")
                out.append(arg)
            else:
                pieces.append(f"%{grouping or ''}.{digits}f")
                out.append(
                    exp.Anonymous(this="BROUND", expressions=[arg, exp.Literal.number(digits)])
                )
        position = match.end()
    pieces.append(template.name[position:])
    return exp.Anonymous(
        this="FORMAT_STRING", expressions=[exp.Literal.string("".join(pieces)), *out]
    )


def _function(node: exp.Expression) -> exp.Expression:
    """DuckDB functions SQLGlot leaves as they are, as their Spark equivalents."""
    if isinstance(node, exp.Cast) and isinstance(node.this, exp.Explode):
        # CAST(unnest(list) AS T): Spark takes no generator inside an expression, so the
        # list is cast instead, element by element
        of = exp.DataType(this=exp.DataType.Type.ARRAY, expressions=[node.to], nested=True)
        return exp.Explode(this=exp.Cast(this=node.this.this, to=of))
    if isinstance(node, exp.Format):
        return _format(node)
    if isinstance(node, exp.Anonymous):
        name, args = node.name.upper(), node.expressions
        if name == "LIST_SLICE" and len(args) == 3:
            return _slice(*args)
        if name == "LIST_SUM" and len(args) == 1:
            # NULL for an empty list, NULL elements skipped, as DuckDB's list_sum
            (array,) = args
            return _spark(
                f"CASE WHEN size({array.sql(WRITE)}) > 0 THEN aggregate({array.sql(WRITE)}, "
                "CAST(0 AS DOUBLE), (acc, v) -> acc + coalesce(v, 0)) END"
            )
        if name == "ROUND_EVEN":  # half to even: Spark's bround
            return exp.Anonymous(this="BROUND", expressions=args)
    if isinstance(node, exp.Bracket) and len(node.expressions) == 1:
        (index,) = node.expressions
        if isinstance(index, exp.Slice):  # list[a:b]
            return _slice(node.this, index.this, index.expression)
    if isinstance(node, exp.Length):  # len() of a list (the computations take no len of text)
        return exp.ArraySize(this=node.this)
    if isinstance(node, exp.TimeToUnix) and isinstance(node.this, exp.Sub):
        # epoch(a - b): the seconds between two timestamps
        a, b = node.this.this.sql(WRITE), node.this.expression.sql(WRITE)
        return _spark(f"((unix_micros({a}) - unix_micros({b})) / 1000000.0)")
    if isinstance(node, exp.Median):  # Spark's median takes no window frame; percentile does
        return exp.Anonymous(this="PERCENTILE", expressions=[node.this, exp.Literal.number("0.5")])
    if isinstance(node, exp.PercentileCont) and node.expression is not None:
        # quantile_cont(x, p): Spark's percentile interpolates linearly, as DuckDB's
        return exp.Anonymous(this="PERCENTILE", expressions=[node.this, node.expression])
    return node


def _zip_unnests(select: exp.Expression) -> exp.Expression:
    """DuckDB unnests several lists in one SELECT side by side (padded with NULLs to the
    longest); Spark would cross them. Adjacent unnests become one inline(arrays_zip(...))."""
    if not isinstance(select, exp.Select):
        return select
    items = select.expressions
    exploded = [
        i
        for i, e in enumerate(items)
        if isinstance(e.unalias(), exp.Explode) and not isinstance(e.unalias(), exp.Posexplode)
    ]
    if len(exploded) < 2:
        return select
    if exploded != list(range(exploded[0], exploded[-1] + 1)):
        raise TranslationError("unnests in one SELECT must be adjacent for the Spark engine")
    names = [items[i].alias_or_name for i in exploded]
    zipped = exp.Anonymous(
        this="INLINE",
        expressions=[
            exp.Anonymous(
                this="ARRAYS_ZIP", expressions=[items[i].unalias().this for i in exploded]
            )
        ],
    )
    combined = exp.Aliases(this=zipped, expressions=[exp.to_identifier(n) for n in names])
    select.set("expressions", [*items[: exploded[0]], combined, *items[exploded[-1] + 1 :]])
    return select


def _double_literal(node: exp.Expression) -> exp.Expression:
    """1.5 is a DECIMAL in Spark and its arithmetic stays DECIMAL; in DuckDB it turns DOUBLE
    as soon as it meets a double or a division: the literal is made a DOUBLE."""
    if isinstance(node, exp.Literal) and node.is_number and not node.is_int:
        return exp.cast(node, "DOUBLE")
    return node


def _is_asof(join: exp.Join) -> bool:
    return (join.args.get("method") or "").upper() == "ASOF"


def to_spark(
    query: str,
    params: Sequence[object] | None = None,
    tables: Mapping[str, str] | Callable[[str], str | None] | None = None,
) -> str:
    """`query` (DuckDB SQL) as Spark SQL; `tables` maps the names it reads to Spark views."""
    try:
        tree = sqlglot.parse_one(query, read=READ)
    except sqlglot.errors.ParseError as exc:
        raise TranslationError(f"cannot parse the query for the Spark engine: {exc}") from exc
    if params:
        tree = _bind(tree, params)
    for cte in tree.find_all(exp.CTE):
        cte.set("materialized", None)  # a DuckDB planner hint; Spark decides itself
    for interval in tree.find_all(exp.Interval):
        # DuckDB's INTERVAL (12) MONTH: Spark takes a literal count only
        if isinstance(interval.this, exp.Paren) and isinstance(interval.this.this, exp.Literal):
            interval.set("this", exp.Literal.string(interval.this.this.name))
    # a replaced node's own arguments are not visited again: repeat until nothing changes
    for _ in range(8):
        before, tree = tree.sql(READ), tree.transform(_function)
        if tree.sql(READ) == before:
            break
    tree = tree.transform(_zip_unnests).transform(_double_literal)
    for join in list(tree.find_all(exp.Join)):
        if _is_asof(join):
            join.replace(_rewrite_asof(join))
    if tables is not None:
        lookup = tables.get if isinstance(tables, Mapping) else tables
        ctes = {c.alias_or_name for c in tree.find_all(exp.CTE)}
        for table in tree.find_all(exp.Table):
            if table.db or table.name in ctes:
                continue
            view = lookup(table.name)
            if view is not None:
                if not table.alias:  # `FROM t ... t.x` keeps reading as t
                    table.set("alias", exp.TableAlias(this=exp.to_identifier(table.name)))
                table.set("this", exp.to_identifier(view))
    return tree.sql(dialect=WRITE)
