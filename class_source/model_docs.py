"""Column docs and data checks of the SQL models, written once in a YAML file beside each model.

`sql/marts/fct_x.yml` next to `sql/marts/fct_x.sql`:

    description: One row per ...          # the table's description (default: the SQL header's purpose)
    columns:                              # one line per output column
      class_id: The class (GET /classes).
    checks:
      relationships:                      # fail: a key with no row in the target model
        - columns: [class_id, session_id]
          to: dim_sessions                # same column names there, or `to_columns: [...]`
          where: person_type = 'student'  # optional: only rows of this model that match (DuckDB SQL)
      ranges:                             # fail: a value outside [min, max] (null bounds are open)
        attendance_rate: [0, 1]
      not_above:                          # fail: column > other column on one row
        talk_seconds: attended_seconds
      accepted_values:                    # warn: values outside the list, named with their row count
        - columns: [event_type, event_value]
          values: [[FOCUSED, 'true'], ...]

This module parses that file and writes the SQL (sqlglot, any dialect): COMMENT ON statements (or
BigQuery's description options) so BI tools show the docs, and one query per check. The runner in
models.py executes them. Nulls never fail a check: a null key has no relationship to check, and a
null value is neither out of range nor above anything; an accepted-values check lists nulls too,
as unknown values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import sqlglot
import yaml
from sqlglot import exp

from .errors import DocsError

__all__ = ["ModelDocs", "Relationship", "AcceptedValues", "DocsError", "load_docs", "comment_statements", "Check", "checks_sql"]

SOURCE_DIALECT = "duckdb"
CHECK_EXAMPLES = 3


@dataclass(frozen=True)
class Relationship:
    columns: tuple[str, ...]
    to: str
    to_columns: tuple[str, ...]
    where: Optional[str] = None


@dataclass(frozen=True)
class AcceptedValues:
    columns: tuple[str, ...]
    values: tuple[tuple[str, ...], ...]


@dataclass
class ModelDocs:
    description: Optional[str] = None
    columns: dict[str, str] = field(default_factory=dict)
    relationships: list[Relationship] = field(default_factory=list)
    ranges: dict[str, tuple[Optional[float], Optional[float]]] = field(default_factory=dict)
    not_above: dict[str, str] = field(default_factory=dict)
    accepted_values: list[AcceptedValues] = field(default_factory=list)


def load_docs(path: Path, model: str) -> ModelDocs:
    """The docs and checks in `path` (a model's .yml), or empty docs if there is no such file."""
    if not path.exists():
        return ModelDocs()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise DocsError(f"model {model}: {path.name} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(raw, dict):
        raise DocsError(f"model {model}: {path.name} must be a mapping with description, columns and checks")
    unknown = sorted(set(raw) - {"description", "columns", "checks"})
    if unknown:
        raise DocsError(f"model {model}: {path.name} has unknown key(s) {', '.join(unknown)}")
    columns = raw.get("columns") or {}
    if not isinstance(columns, dict) or not all(isinstance(v, str) and v.strip() for v in columns.values()):
        raise DocsError(f"model {model}: {path.name}: columns must map each column to a one-line description")
    checks = raw.get("checks") or {}
    unknown = sorted(set(checks) - {"relationships", "ranges", "not_above", "accepted_values"})
    if unknown:
        raise DocsError(f"model {model}: {path.name} has unknown check kind(s) {', '.join(unknown)}")
    try:
        return ModelDocs(
            description=_one_line(raw.get("description")),
            columns={str(name): _one_line(text) or "" for name, text in columns.items()},
            relationships=[_relationship(item) for item in checks.get("relationships") or []],
            ranges={str(c): (_bound(b[0]), _bound(b[1])) for c, b in (checks.get("ranges") or {}).items()},
            not_above={str(c): str(limit) for c, limit in (checks.get("not_above") or {}).items()},
            accepted_values=[_accepted(item) for item in checks.get("accepted_values") or []],
        )
    except (KeyError, TypeError, IndexError, ValueError) as exc:
        raise DocsError(f"model {model}: {path.name} has a malformed check: {exc!r}") from None


def _one_line(text: Any) -> Optional[str]:
    return " ".join(str(text).split()) if text is not None else None


def _bound(value: Any) -> Optional[float]:
    return None if value is None else float(value)


def _names(value: Any) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(str(v) for v in value)


def _relationship(item: dict[str, Any]) -> Relationship:
    columns = _names(item["columns"])
    to_columns = _names(item.get("to_columns", columns))
    if len(to_columns) != len(columns):
        raise ValueError("columns and to_columns differ in length")
    return Relationship(columns, str(item["to"]), to_columns, item.get("where"))


def _accepted(item: dict[str, Any]) -> AcceptedValues:
    columns = _names(item["columns"])
    values = tuple(_names(v) if len(columns) > 1 else (str(v),) for v in item["values"])
    if any(len(v) != len(columns) for v in values):
        raise ValueError(f"every accepted value of {columns} needs {len(columns)} parts")
    return AcceptedValues(columns, values)


# --- comments ------------------------------------------------------------------------------------


def comment_statements(table: exp.Table, kind: str, docs: ModelDocs, description: str, dialect: str) -> list[str]:
    """Statements that attach `description` and the column docs to the built relation.

    COMMENT ON (DuckDB, Postgres, Snowflake) or ALTER ... SET OPTIONS(description=...) (BigQuery).
    """
    statements = []
    relation = table.sql(dialect=dialect)
    kind_word = "VIEW" if kind == "view" else "TABLE"
    if dialect == "bigquery":
        statements.append(f"ALTER {kind_word} {relation} SET OPTIONS (description={_literal(description, dialect)})")
        for column, text in docs.columns.items():
            statements.append(
                f"ALTER {kind_word} {relation} ALTER COLUMN {_column(column, dialect)} SET OPTIONS (description={_literal(text, dialect)})"
            )
        return statements
    statements.append(f"COMMENT ON {kind_word} {relation} IS {_literal(description, dialect)}")
    for column, text in docs.columns.items():
        statements.append(f"COMMENT ON COLUMN {relation}.{_column(column, dialect)} IS {_literal(text, dialect)}")
    return statements


def _literal(text: str, dialect: str) -> str:
    return exp.Literal.string(text).sql(dialect=dialect)


def _column(name: str, dialect: str) -> str:
    return exp.to_identifier(name).sql(dialect=dialect)


# --- checks --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One check's query: it returns (offending rows, key columns...) groups, worst first.
    `severity` is "fail" or "warn"; `what` describes the rule for the message."""

    severity: str
    what: str
    columns: tuple[str, ...]
    sql: str


def checks_sql(table: exp.Table, docs: ModelDocs, tables: dict[str, exp.Table], dialect: str) -> list[Check]:
    """The queries of `docs`' checks on `table`; `tables` maps model names to their qualified tables.

    Every query first groups the model's rows by the checked columns, then tests the distinct
    values: a table of millions of events has a few dozen (type, value) pairs and a few thousand
    sessions, so the rule is evaluated per value, not per row."""
    checks: list[Check] = []
    for rel in docs.relationships:
        target = tables.get(rel.to)
        if target is None:
            raise DocsError(f"relationship to {rel.to}: not a model")
        match = exp.and_(*[exp.column(t, table="target").eq(exp.column(c, table="this")) for c, t in zip(rel.columns, rel.to_columns)])
        missing = exp.not_(exp.Exists(this=exp.select("1").from_(target.copy().as_("target")).where(match)))
        present = exp.and_(*[exp.column(c).is_(exp.null()).not_() for c in rel.columns])
        if rel.where:
            present = exp.and_(sqlglot.parse_one(rel.where, read=SOURCE_DIALECT), present)
        what = f"({', '.join(rel.columns)}) with no row in {rel.to}" + (f" (where {rel.where})" if rel.where else "")
        checks.append(Check("fail", what, rel.columns, _grouped(table, rel.columns, present, missing, dialect, limit=True)))
    for column, (low, high) in docs.ranges.items():
        bounds: list[exp.Expr] = []
        if low is not None:
            bounds.append(exp.LT(this=exp.column(column, table="this"), expression=exp.Literal.number(low)))
        if high is not None:
            bounds.append(exp.GT(this=exp.column(column, table="this"), expression=exp.Literal.number(high)))
        what = f"{column} outside [{low}, {high}]"
        checks.append(Check("fail", what, (column,), _grouped(table, (column,), None, exp.or_(*bounds), dialect, limit=True)))
    for column, limit in docs.not_above.items():
        condition: exp.Expr = exp.GT(this=exp.column(column, table="this"), expression=exp.column(limit, table="this"))
        what = f"{column} above {limit}"
        checks.append(Check("fail", what, (column, limit), _grouped(table, (column, limit), condition, None, dialect, limit=True)))
    for accepted in docs.accepted_values:
        known = exp.or_(
            *[
                exp.and_(*[exp.column(c, table="this").eq(exp.Literal.string(v)) for c, v in zip(accepted.columns, values)])
                for values in accepted.values
            ]
        )
        # a null never equals a listed value: coalesce the test, so null values count as unknown
        condition = exp.not_(exp.func("COALESCE", exp.paren(known), exp.false()))
        what = f"undocumented {'/'.join(accepted.columns)}"
        checks.append(Check("warn", what, accepted.columns, _grouped(table, accepted.columns, None, condition, dialect, limit=False)))
    return checks


def _grouped(
    table: exp.Table,
    columns: tuple[str, ...],
    row_filter: Optional[exp.Expr],
    group_test: Optional[exp.Expr],
    dialect: str,
    *,
    limit: bool,
) -> str:
    """Offending rows per distinct value of `columns`, most first, with the total of offending rows
    in every returned row. `row_filter` picks rows before grouping, `group_test` picks the distinct
    values that offend (it reads the columns as `this.<column>`); with `limit`, the first few only."""
    per_value = exp.select(*[exp.column(c) for c in columns], exp.alias_(exp.Count(this=exp.Star()), "value_rows")).from_(
        table.copy().as_("this")
    )
    if row_filter is not None:
        per_value = per_value.where(row_filter)
    per_value = per_value.group_by(*[exp.column(c) for c in columns])
    keys = [exp.column(c, table="this") for c in columns]
    query = exp.select(
        exp.alias_(exp.column("value_rows", table="this"), "offending_rows"),
        exp.alias_(exp.Window(this=exp.Sum(this=exp.column("value_rows", table="this"))), "all_offending_rows"),
        *keys,
    ).from_(per_value.subquery("this"))
    if group_test is not None:
        query = query.where(group_test)
    query = query.order_by(exp.Ordered(this=exp.column("offending_rows"), desc=True), *[k.copy() for k in keys])
    if limit:
        query = query.limit(CHECK_EXAMPLES)
    return query.sql(dialect=dialect)
