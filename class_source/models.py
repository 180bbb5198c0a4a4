"""SQL models: staging views and marts over the raw Class tables, built by a small dialect-portable runner.

Models live in `sql/` as one SELECT per file, written in DuckDB's dialect:

- `sql/staging/stg_class__<table>.sql` become views (rename, cast, dedupe one raw table),
- `sql/intermediate/int_*.sql` become tables (shared logic several marts read; materialized so that
  millions of events are sessionized once, not once per reader),
- `sql/marts/{fct,dim,agg}_*.sql` become tables
  (a `-- materialized: view|table` header line overrides the folder's default).

Every model starts with a header comment: `-- grain: col, col?, ...` (the columns that identify one
row; a trailing `?` marks a key column that may be null, see below) and `-- purpose: ...`.
Models name raw tables and other models by bare name (`from metrics`, `from stg_class__metrics`).

The runner parses each model with sqlglot, takes its dependencies from the tables it reads, orders
the models topologically, qualifies every bare name with the pipeline's dataset, transpiles to the
destination's dialect and creates each view/table through `pipeline.sql_client()`. Right after
building a model (before anything reads it) it checks the model's grain: no key repeats and no
non-nullable key column is null. On DuckDB/MotherDuck/Postgres the whole build is one transaction,
so a failure leaves the previous models in place. `drop_models` removes them again (Postgres will
not let dlt drop a raw table while staging views read it, e.g. for a full refresh).

Reference policy: a bare name must be a model or one of the connector's raw tables (RAW_TABLES);
anything else, or a schema-qualified name, is a ModelError at load time, so a typo fails before
anything runs. A raw table that the destination does not have (e.g. a resource skipped for lack of
an API scope) is read as an empty relation with the contract's columns, so the models still build.

Settings: a model reads the school's settings as `model_setting('name')` (ModelSettings: the school's
time zone, the join-before-host allowance, the chronic-absence threshold); the runner replaces each
call by a literal before transpiling, so every dialect sees plain constants. An unknown name is a
ModelError at load time.

Nullable grain columns (`session_id?`): the uniqueness check groups by the key columns, and GROUP BY
treats all nulls as one value, so it checks uniqueness as if the null were one more key value (as
grouping on a coalesced key would); the not-null check skips that column.
"""

from __future__ import annotations

import contextlib
import heapq
import logging
import re
import time
import zoneinfo
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, cast

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError
from sqlglot.optimizer.scope import traverse_scope

from .dlt_compat import information_schema_table
from .errors import DocsError, ModelError
from .model_docs import ModelDocs, checks_sql, comment_statements, load_docs
from .records import TABLE_SCHEMAS, warehouse_columns

__all__ = [
    "SQL_DIR",
    "ModelSettings",
    "RAW_TABLES",
    "ModelError",
    "Model",
    "BuiltModel",
    "load_models",
    "render",
    "comment_sql",
    "check_models",
    "build_models",
    "drop_models",
    "dialect_for_destination",
]

# the repository's sql/ (a checkout or editable install), else the copy packed into the wheel
SQL_DIR: Path = next(
    (p for p in (Path(__file__).parent.parent / "sql", Path(__file__).parent / "sql") if p.is_dir()),
    Path(__file__).parent.parent / "sql",
)

# the dialect the model files are written in
SOURCE_DIALECT = "duckdb"

# folder -> default materialization; the folder order is also the build order between independent models
FOLDER_KINDS: dict[str, str] = {"staging": "view", "intermediate": "table", "marts": "table"}

# dlt destination type -> sqlglot dialect
DESTINATION_DIALECTS: dict[str, str] = {
    "duckdb": "duckdb",
    "motherduck": "duckdb",
    "filesystem": "duckdb",  # dlt's filesystem SQL client is DuckDB over the loaded files
    "postgres": "postgres",
    "bigquery": "bigquery",
    "snowflake": "snowflake",
}

POSTGRES_WORK_MEM = "256MB"  # per sort/hash step of the model build's own transaction

# destinations whose DDL is transactional: the whole build (and grain check) commits or rolls back at once
TRANSACTIONAL_DESTINATIONS = frozenset({"duckdb", "motherduck", "postgres"})

# The connector's raw tables with their columns as SQL types. Used to resolve bare names and to
# stand in, empty, for a raw table the destination does not have.
RAW_TABLES: dict[str, tuple[tuple[str, str], ...]] = {table: warehouse_columns(table) for table in TABLE_SCHEMAS}

_HEADER_LINE = re.compile(r"^--\s*(?P<key>[a-z_]+)\s*:\s*(?P<value>.*)$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_KEY_COLUMN = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<nullable>\?)?$")
GRAIN_EXAMPLES = 3  # offending keys quoted in a grain error

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelSettings:
    """School settings the models need and the API does not report.

    timezone: the school's IANA time zone; Class reports UTC only, and local dates, weeks and
      weekdays depend on it. join_before_host_minutes: how early students may join before a session
      starts (Create a Class's `jbh_time`, 0/5/10; the class listing does not return it, so one
      value for the school, the API's maximum by default). chronic_absence_threshold: share of
      expected sessions missed from which a student counts as chronically absent.
    """

    timezone: str = "UTC"
    join_before_host_minutes: int = 10
    chronic_absence_threshold: float = 0.10

    def __post_init__(self) -> None:
        try:
            zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
            raise ModelError(
                f"timezone {self.timezone!r} is not an IANA time zone name: set [sources.class_api] timezone "
                "to e.g. 'America/New_York' (default UTC)"
            ) from None
        if isinstance(self.join_before_host_minutes, bool) or not 0 <= self.join_before_host_minutes <= 60:
            raise ModelError(
                f"join_before_host_minutes {self.join_before_host_minutes!r} must be a whole number of minutes "
                "between 0 and 60 (the API allows 0, 5 or 10)"
            )
        if not 0 < self.chronic_absence_threshold <= 1:
            raise ModelError(f"chronic_absence_threshold {self.chronic_absence_threshold!r} must be a share in (0, 1], e.g. 0.1 for 10 %")

    @classmethod
    def from_config(cls) -> "ModelSettings":
        """The settings from dlt's config (`[sources.class_api]` in .dlt/config.toml or env vars); defaults where unset."""
        import dlt

        values: dict[str, Any] = {}
        for name, kind in (("timezone", str), ("join_before_host_minutes", int), ("chronic_absence_threshold", float)):
            try:
                value = dlt.config.get(f"sources.class_api.{name}", kind)
            except (TypeError, ValueError) as exc:
                raise ModelError(f"[sources.class_api] {name} cannot be read as {kind.__name__}: {_first_line(exc)}") from None
            if value is not None:
                values[name] = value
        return cls(**values)

    def literal(self, name: str) -> exp.Expr:
        """`model_setting('name')` as the SQL constant that replaces it."""
        if name == "timezone":
            return exp.Literal.string(self.timezone)
        if name == "join_before_host_allowance":
            return exp.Interval(this=exp.Literal.string(str(self.join_before_host_minutes)), unit=exp.var("MINUTE"))
        if name == "chronic_absence_threshold":
            return exp.Literal.number(repr(float(self.chronic_absence_threshold)))
        raise ModelError(f"unknown model setting {name!r}: known are {', '.join(SETTING_NAMES)}")


SETTING_FUNCTION = "model_setting"
SETTING_NAMES = ("timezone", "join_before_host_allowance", "chronic_absence_threshold")


@dataclass
class Model:
    name: str
    path: Path
    kind: str  # "view" | "table"
    grain: tuple[str, ...]  # key columns, in header order (without the `?` marker)
    sql: str  # the SELECT as written (DuckDB dialect), header included
    depends_on: set[str] = field(default_factory=set)  # other models this one reads
    sources: set[str] = field(default_factory=set)  # raw tables this one reads
    nullable_keys: frozenset[str] = frozenset()  # grain columns allowed to be null (`col?`)
    purpose: str = ""  # the header's purpose line (its first line)
    docs: ModelDocs = field(default_factory=ModelDocs)  # the YAML beside the model: column docs, checks
    grouped_by_grain: bool = False  # its final SELECT groups by exactly the grain: keys cannot repeat

    @property
    def description(self) -> str:
        """One line for BI tools: the YAML's description, else the header's purpose."""
        return self.docs.description or self.purpose


@dataclass(frozen=True)
class BuiltModel:
    name: str
    kind: str
    rows: int
    seconds: float  # wall seconds: create, grain check and comments
    # CPU seconds of the whole process over the same steps (the destination's threads included when
    # it runs in process, as DuckDB does): steadier than wall seconds on a shared machine
    cpu_seconds: float


# --- loading -------------------------------------------------------------------------------------


def load_models(models_dir: Path = SQL_DIR) -> list[Model]:
    """Every model under `models_dir`, dependencies before dependents.

    Raises ModelError for a malformed header, SQL that is not one SELECT, an unknown or qualified
    table reference, a duplicate model name, or a dependency cycle (the message names the cycle).
    """
    models_dir = Path(models_dir)
    files = sorted(
        (path for folder in FOLDER_KINDS for path in (models_dir / folder).glob("*.sql")),
        key=lambda p: (list(FOLDER_KINDS).index(p.parent.name), p.stem),
    )
    if not files:
        raise ModelError(f"no models found: expected .sql files under {models_dir}/{{{','.join(FOLDER_KINDS)}}}/")
    names: dict[str, Path] = {}
    for path in files:
        if path.stem in names:
            raise ModelError(f"two models are named {path.stem}: {names[path.stem]} and {path}")
        if path.stem in RAW_TABLES:
            raise ModelError(f"model {path} has the name of raw table {path.stem}: rename the file")
        if not _IDENTIFIER.match(path.stem):
            raise ModelError(f"model file name {path.name} is not a plain SQL identifier (letters, digits, _)")
        names[path.stem] = path
    models = [_parse_model(path, set(names)) for path in files]
    for model in models:
        for relationship in model.docs.relationships:
            if relationship.to not in names:
                raise ModelError(
                    f"model {model.name}: {model.path.with_suffix('.yml').name} checks a relationship to "
                    f"{relationship.to}, which is not a model"
                )
    return _topological_order(models)


def _parse_model(path: Path, model_names: set[str]) -> Model:
    sql = path.read_text(encoding="utf-8")
    header = _parse_header(path, sql)
    if "grain" not in header:
        raise ModelError(f"model {path.stem} ({path}) has no '-- grain: col, ...' header line")
    if "purpose" not in header:
        raise ModelError(f"model {path.stem} ({path}) has no '-- purpose: ...' header line")
    grain, nullable = _parse_grain(path, header["grain"])
    kind = header.get("materialized", FOLDER_KINDS[path.parent.name])
    if kind not in ("view", "table"):
        raise ModelError(f"model {path.stem}: materialized must be 'view' or 'table', got {kind!r}")

    ast = _parse_select(path.stem, sql)
    # DuckDB, Postgres and Snowflake fold unquoted names: `FROM Metrics` reads the metrics table
    refs = {table.name.lower() for table in _external_tables(path.stem, ast)}
    unknown = sorted(refs - model_names - set(RAW_TABLES))
    if unknown:
        raise ModelError(
            f"model {path.stem} reads unknown table(s) {', '.join(unknown)}: "
            f"not a model in the models folder nor a raw table ({', '.join(RAW_TABLES)})"
        )
    for call in _setting_calls(ast):
        name = _setting_name(path.stem, call)
        if name not in SETTING_NAMES:
            raise ModelError(f"model {path.stem} reads unknown setting {name!r}: known are {', '.join(SETTING_NAMES)}")
    outputs = ast.named_selects
    try:
        docs = load_docs(path.with_suffix(".yml"), path.stem)
    except DocsError as exc:
        raise ModelError(str(exc)) from None
    if "*" not in outputs:  # with a star the output columns are only known to the database
        missing = [column for column in grain if column not in outputs]
        if missing:
            raise ModelError(f"model {path.stem}: grain column(s) {', '.join(missing)} are not among its output columns")
        named = set(docs.columns) | set(docs.ranges) | set(docs.not_above) | set(docs.not_above.values())
        named |= {c for rel in docs.relationships for c in rel.columns}
        named |= {c for accepted in docs.accepted_values for c in accepted.columns}
        unknown_columns = sorted(named - set(outputs))
        if unknown_columns:
            raise ModelError(
                f"model {path.stem}: {path.with_suffix('.yml').name} names column(s) {', '.join(unknown_columns)} "
                "that are not among its output columns"
            )
    return Model(
        name=path.stem,
        path=path,
        kind=kind,
        grain=grain,
        sql=sql,
        depends_on=refs & model_names,
        sources=refs & set(RAW_TABLES),
        nullable_keys=frozenset(nullable),
        purpose=_purpose_paragraph(sql),
        docs=docs,
        grouped_by_grain=_grouped_by_grain(ast, grain),
    )


def _grouped_by_grain(ast: exp.Query, grain: tuple[str, ...]) -> bool:
    """Whether the model's final SELECT is `select <grain columns>, ... group by <those columns>`.

    Its grain keys cannot repeat then (GROUP BY makes one row per key, nulls included as one value,
    as the grain check counts them), so the runner checks only for null keys: one scan instead of a
    second grouping of the model (1 CPU second for stg_class__metrics' 2 M events, where grouping
    is the dedupe itself). Each grain column must be output as the very column grouped on (an alias
    of another expression would not be that key), with no other grouping key and no grouping sets.
    """
    if not isinstance(ast, exp.Select):
        return False
    group = ast.args.get("group")
    if group is None or any(group.args.get(kind) for kind in ("grouping_sets", "cube", "rollup")):
        return False
    keys = group.expressions
    if len(keys) != len(grain) or not all(isinstance(key, exp.Column) for key in keys):
        return False
    grouped = {(key.table, key.name) for key in keys}
    outputs: dict[str, exp.Expr] = {}
    for projection in ast.expressions:
        outputs[projection.alias_or_name] = projection.unalias()
    for column in grain:
        output = outputs.get(column)
        if not isinstance(output, exp.Column) or (output.table, output.name) not in grouped or output.name != column:
            return False
    return len(grouped) == len(grain)


def _setting_calls(ast: exp.Expr) -> list[exp.Anonymous]:
    return [node for node in ast.find_all(exp.Anonymous) if str(node.this).lower() == SETTING_FUNCTION]


def _setting_name(model: str, call: exp.Anonymous) -> str:
    arguments = call.expressions
    if len(arguments) != 1 or not isinstance(arguments[0], exp.Literal) or not arguments[0].is_string:
        raise ModelError(f"model {model}: {SETTING_FUNCTION}() takes one quoted setting name, got {call.sql()}")
    return arguments[0].this


def _purpose_paragraph(sql: str) -> str:
    """The `-- purpose:` line and the indented comment lines continuing it, as one line."""
    words: list[str] = []
    for line in sql.splitlines():
        line = line.strip()
        if not line.startswith("--"):
            if words or line:
                break
            continue
        match = _HEADER_LINE.match(line)
        if match and match["key"] in ("grain", "purpose", "materialized"):
            if words:
                break
            if match["key"] == "purpose":
                words.append(match["value"].strip())
        elif words:
            words.append(line.removeprefix("--").strip())
    return " ".join(word for word in words if word)


def _parse_header(path: Path, sql: str) -> dict[str, str]:
    header: dict[str, str] = {}
    for line in sql.splitlines():
        line = line.strip()
        if not line:
            continue
        if not line.startswith("--"):
            break  # the header is the leading comment block
        match = _HEADER_LINE.match(line)
        if match and match["key"] in ("grain", "purpose", "materialized"):
            if match["key"] in header:
                raise ModelError(f"model {path.stem}: header line '{match['key']}:' appears twice")
            header[match["key"]] = match["value"].strip()
    return header


def _parse_grain(path: Path, value: str) -> tuple[tuple[str, ...], set[str]]:
    columns: list[str] = []
    nullable: set[str] = set()
    for part in value.split(","):
        match = _KEY_COLUMN.match(part.strip())
        if not match:
            raise ModelError(f"model {path.stem}: grain entry {part.strip()!r} is not a column name (optionally ending in ?)")
        if match["name"] in columns:
            raise ModelError(f"model {path.stem}: grain column {match['name']} is listed twice")
        columns.append(match["name"])
        if match["nullable"]:
            nullable.add(match["name"])
    return tuple(columns), nullable


def _parse_select(name: str, sql: str) -> exp.Query:
    try:
        statements = [s for s in sqlglot.parse(sql, read=SOURCE_DIALECT) if s is not None]
    except ParseError as exc:
        raise ModelError(f"model {name} is not valid DuckDB SQL: {_first_line(exc)}") from exc
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        raise ModelError(f"model {name} must hold exactly one SELECT statement (no DDL, no ';'-separated statements)")
    return statements[0]


def _external_tables(name: str, ast: exp.Expr) -> list[exp.Table]:
    """Table nodes that read a warehouse relation, i.e. that are not references to the query's own CTEs."""
    cte_refs: set[int] = set()
    for scope in traverse_scope(ast):
        for table in scope.tables:
            if not table.db and table.name in scope.cte_sources:
                cte_refs.add(id(table))
    tables = [table for table in ast.find_all(exp.Table) if id(table) not in cte_refs]
    for table in tables:
        if table.db or table.catalog:
            raise ModelError(
                f"model {name} reads {table.sql(dialect=SOURCE_DIALECT)}: name tables bare "
                "(the runner qualifies them with the pipeline's dataset)"
            )
        if not table.name:
            raise ModelError(f"model {name} reads from {table.sql(dialect=SOURCE_DIALECT)}: only plain table names are supported")
    return tables


def _topological_order(models: list[Model]) -> list[Model]:
    """Kahn's algorithm; among ready models, staging before intermediate before marts, then by name,
    so the order is deterministic."""
    by_name = {model.name: model for model in models}
    rank = {model.name: (list(FOLDER_KINDS).index(model.path.parent.name), model.name) for model in models}
    waiting = {model.name: set(model.depends_on) for model in models}
    dependents: dict[str, list[str]] = {model.name: [] for model in models}
    for model in models:
        for dependency in model.depends_on:
            dependents[dependency].append(model.name)
    ready = [rank[name] for name, deps in waiting.items() if not deps]
    heapq.heapify(ready)
    ordered: list[Model] = []
    while ready:
        _, name = heapq.heappop(ready)
        ordered.append(by_name[name])
        for dependent in dependents[name]:
            waiting[dependent].discard(name)
            if not waiting[dependent]:
                heapq.heappush(ready, rank[dependent])
    if len(ordered) < len(models):
        cycle = _find_cycle({name: deps for name, deps in waiting.items() if deps})
        raise ModelError(f"models depend on each other in a cycle: {' -> '.join(cycle)}")
    return ordered


def _find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle in `graph` (every node has an unresolved dependency, so walking always closes a loop)."""
    start = min(graph)
    path: list[str] = [start]
    seen = {start: 0}
    while True:
        node = min(dep for dep in graph[path[-1]] if dep in graph)
        if node in seen:
            return path[seen[node] :] + [node]
        seen[node] = len(path)
        path.append(node)


# --- rendering -----------------------------------------------------------------------------------


def dialect_for_destination(destination_type: str) -> str:
    """sqlglot dialect for a dlt destination type (`duckdb` or `dlt.destinations.duckdb`)."""
    short = destination_type.rsplit(".", 1)[-1]
    if short not in DESTINATION_DIALECTS:
        raise ModelError(f"the SQL models do not support destination {short!r}; supported: {', '.join(DESTINATION_DIALECTS)}")
    return DESTINATION_DIALECTS[short]


def render(
    model: Model,
    *,
    dialect: str,
    dataset: str,
    missing_sources: Iterable[str] = (),
    missing_columns: Optional[dict[str, list[str]]] = None,
    replacing: Optional[str] = None,
    settings: ModelSettings = ModelSettings(),
) -> list[str]:
    """The statements that (re)create `model` in `dataset` on a destination speaking `dialect`.

    `dataset` may be `catalog.dataset` (e.g. a BigQuery project or Snowflake database). Raw tables in
    `missing_sources` are read as empty relations with the contract's columns; columns listed in
    `missing_columns` (table -> columns the loaded table lacks) are read as nulls. `replacing` is the
    kind ("view"/"table") of a relation that already has the model's name, if any: a relation of the
    other kind is dropped first, since no dialect replaces a table by a view or back. `settings`
    replace the model's `model_setting('name')` calls.
    """
    catalog, schema = _split_dataset(dataset)
    target = _table(model.name, schema, catalog)
    select = _qualified_select(model, schema, catalog, set(missing_sources), missing_columns or {})
    for call in _setting_calls(select):
        call.replace(settings.literal(_setting_name(model.name, call)))
    select = _portable_date_diffs(select, dialect)
    statements: list[exp.Expr] = []
    postgres = dialect == "postgres"
    if replacing is not None and replacing != model.kind:
        statements.append(exp.Drop(tables=[target.copy()], kind=replacing.upper(), exists=True, cascade=postgres))
    if postgres:
        # Postgres has no CREATE OR REPLACE TABLE, and CREATE OR REPLACE VIEW cannot drop or retype
        # columns: drop and create instead. CASCADE also drops views built on the old relation; the
        # models among them come later in build order and are recreated (in the same transaction).
        if replacing in (None, model.kind):
            statements.append(exp.Drop(tables=[target.copy()], kind=model.kind.upper(), exists=True, cascade=True))
        statements.append(exp.Create(this=target, kind=model.kind.upper(), expression=select))
    else:
        statements.append(exp.Create(this=target, kind=model.kind.upper(), expression=select, replace=True))
    with _quiet_window_null_ordering():
        return [statement.sql(dialect=dialect, pretty=True) for statement in statements]


def comment_sql(model: Model, *, dialect: str, dataset: str) -> list[str]:
    """Statements that attach the model's description and column docs to its relation, where BI
    tools read them (COMMENT ON, or BigQuery's description options)."""
    catalog, schema = _split_dataset(dataset)
    return comment_statements(_table(model.name, schema, catalog), model.kind, model.docs, model.description, dialect)


class _WindowNullOrderingFilter(logging.Filter):
    """Drops sqlglot's warning that BigQuery cannot spell NULLS LAST inside an aggregate window.

    The models order aggregate windows only by event timestamps, which are never null, so BigQuery's
    different default null ordering cannot change a result; every other sqlglot warning still shows.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "translation not supported in window function" not in record.getMessage()


@contextlib.contextmanager
def _quiet_window_null_ordering() -> Iterator[None]:
    logger = logging.getLogger("sqlglot")
    quiet = _WindowNullOrderingFilter()
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)


def _split_dataset(dataset: str) -> tuple[Optional[str], str]:
    parts = dataset.split(".")
    if len(parts) == 1 and parts[0]:
        return None, parts[0]
    if len(parts) == 2 and all(parts):
        return parts[0], parts[1]
    raise ModelError(f"dataset {dataset!r} must be 'dataset' or 'catalog.dataset'")


def _identifier(name: str) -> exp.Identifier:
    # unquoted where possible: Snowflake folds unquoted names to upper case, as dlt stores them there
    return exp.to_identifier(name, quoted=not _IDENTIFIER.match(name))


def _table(name: str, schema: str, catalog: Optional[str]) -> exp.Table:
    return exp.Table(
        this=_identifier(name),
        db=_identifier(schema),
        catalog=_identifier(catalog) if catalog else None,
    )


def _qualified_select(
    model: Model, schema: str, catalog: Optional[str], missing: set[str], missing_columns: dict[str, list[str]]
) -> exp.Query:
    ast = _parse_select(model.name, model.sql)
    # comments are for readers of sql/; sqlglot would re-attach them to arbitrary nodes as /* */
    for node in ast.walk():
        node.comments = None
    for table in _external_tables(model.name, ast):
        name = table.name.lower()
        if name in missing:
            table.replace(_empty_source(name, table.alias_or_name))
            continue
        alias = table.alias_or_name
        table.set("this", _identifier(table.name))
        table.set("db", _identifier(schema))
        if catalog:
            table.set("catalog", _identifier(catalog))
        if missing_columns.get(name):
            table.replace(_padded_source(name, table.copy(), alias, missing_columns[name]))
    return ast


def _padded_source(raw_table: str, table: exp.Table, alias: str, columns: list[str]) -> exp.Expr:
    """A loaded raw table plus nulls for contract columns it lacks (never loaded, or a destination
    without SCD2 history columns)."""
    types = dict(RAW_TABLES[raw_table])
    table.set("alias", None)
    nulls = [exp.cast(exp.Null(), sqlglot.parse_one(types[c], into=exp.DataType, read=SOURCE_DIALECT)).as_(c) for c in columns]
    return exp.select(exp.Star(), *nulls).from_(table).subquery(alias)


def _empty_source(raw_table: str, alias: str) -> exp.Expr:
    columns = ", ".join(f"cast(null as {type_}) as {column}" for column, type_ in RAW_TABLES[raw_table])
    subquery = sqlglot.parse_one(f"(select {columns} limit 0) as {alias}", read=SOURCE_DIALECT)
    return subquery


_MS_PER_UNIT = {"MILLISECOND": 1000, "SECOND": 1}


def _portable_date_diffs(ast: exp.Query, dialect: str) -> exp.Query:
    """Rewrite DuckDB's `date_diff('millisecond'|'second', a, b)` where sqlglot's own translation is wrong
    or slow.

    - DuckDB: date_diff on TIMESTAMPTZ goes through ICU's calendar arithmetic (~1.4 µs a row: a third
      of int_class__events' time on 2 M events); `epoch_ms(b) - epoch_ms(a)` is the same number of
      milliseconds for the millisecond-precision times the API sends, read straight off the stored
      microseconds.
    - Postgres: sqlglot casts both sides to TIMESTAMP (session-local wall time), which is off by an
      hour across a DST change when the session time zone is not UTC; the difference of two
      timestamptz values is an exact interval, so take its epoch instead.
    - BigQuery: sqlglot emits DATE_DIFF, which does not take TIMESTAMP arguments; TIMESTAMP_DIFF does.
    """
    if dialect not in ("duckdb", "postgres", "bigquery"):
        return ast

    def rewrite(node: exp.Expr) -> exp.Expr:
        if not isinstance(node, exp.DateDiff):
            return node
        unit = (node.unit.name if node.unit else "DAY").upper()
        if unit not in _MS_PER_UNIT:
            return node
        end, start = node.this, node.expression
        if dialect == "duckdb":
            if unit != "MILLISECOND":
                return node
            return exp.paren(exp.Sub(this=exp.func("EPOCH_MS", end), expression=exp.func("EPOCH_MS", start)))
        if dialect == "bigquery":
            return exp.TimestampDiff(this=end, expression=start, unit=exp.var(unit))
        seconds = exp.Extract(this=exp.var("EPOCH"), expression=exp.paren(exp.Sub(this=end, expression=start)))
        scaled = exp.Mul(this=seconds, expression=exp.Literal.number(_MS_PER_UNIT[unit]))
        return exp.cast(exp.func("ROUND", scaled), exp.DataType.build("BIGINT"))

    return cast(exp.Query, ast.transform(rewrite))  # only nested nodes are rewritten: the root stays a query


# --- building ------------------------------------------------------------------------------------


def build_models(
    pipeline: Any,
    *,
    models_dir: Path = SQL_DIR,
    progress: Callable[[str], None] | None = None,
    settings: Optional[ModelSettings] = None,
) -> list[BuiltModel]:
    """Create every model in the pipeline's dataset in dependency order, checking each one's grain
    right after it is built (the same query counts its rows for the returned BuiltModel).

    On DuckDB, MotherDuck and Postgres everything runs in one transaction: a failing model or grain
    check leaves the previously built models as they were. Raises ModelError naming the model.
    `progress` receives one line per model (and one about raw tables read as empty, if any).
    `settings` default to ModelSettings.from_config() (the `[sources.class_api]` config). Once all
    models are built, their YAML checks run: a failing relationship, range or not_above rule is a
    ModelError (rolling the build back); values outside an accepted list are warnings, reported as
    `warning: ...` lines (logged instead when there is no `progress`).
    """
    settings = settings if settings is not None else ModelSettings.from_config()
    models = load_models(models_dir)
    destination_type = _destination_type(pipeline)
    dialect = dialect_for_destination(destination_type)
    report = progress or (lambda message: None)
    built: list[BuiltModel] = []
    with pipeline.sql_client() as client:
        dataset = ".".join(client.make_qualified_table_name_path(None, quote=False))
        if not client.has_dataset():
            raise ModelError(f"dataset {dataset} does not exist on {destination_type}: run the pipeline first")
        needed_sources = set().union(*(model.sources for model in models))
        if hasattr(client, "create_views_for_tables"):
            # dlt's filesystem client maps loaded files to DuckDB views lazily, per query; map the raw
            # tables up front so they show as existing (and the model DDL can read them)
            client.create_views_for_tables({name: name for name in sorted(needed_sources)})
        existing = _existing_relations(client, dialect)
        missing_sources = sorted(source for source in needed_sources if source not in existing)
        if missing_sources:
            report(f"raw table(s) {', '.join(missing_sources)} not loaded: models read them as empty")
        missing_columns = _missing_raw_columns(client, dialect, sorted(needed_sources - set(missing_sources)))
        for table, columns in missing_columns.items():
            report(f"raw table {table} has no column(s) {', '.join(columns)}: models read them as null")
        transaction = client.begin_transaction() if destination_type in TRANSACTIONAL_DESTINATIONS else contextlib.nullcontext()
        with transaction:
            if dialect == "postgres":
                # the models sort and hash millions of events; Postgres' default 4MB per sort spills to
                # disk. SET LOCAL lasts until this transaction ends and touches no other session
                client.execute_sql(f"SET LOCAL work_mem = '{POSTGRES_WORK_MEM}'")
                # tables built in this transaction have no statistics and the staging dedupes
                # (row_number() = 1) are estimated at ~1 row, so Postgres picks nested loops over
                # whole tables (fct_session_attendance: 897 s at 1,000 classes, 8.7 s without)
                client.execute_sql("SET LOCAL enable_nestloop = off")
            for model in models:
                started, cpu_started = time.perf_counter(), time.process_time()
                statements = render(
                    model,
                    dialect=dialect,
                    dataset=dataset,
                    missing_sources=missing_sources,
                    missing_columns=missing_columns,
                    replacing=existing.get(model.name.lower()),
                    settings=settings,
                )
                for statement in statements:
                    _execute(client, model, dialect, statement)
                # checked right away, before dependents read it; one pass counts rows and checks keys
                rows = check_grain(client, model, dialect=dialect, dataset=dataset)
                for statement in comment_sql(model, dialect=dialect, dataset=dataset):
                    _execute(client, model, dialect, statement)
                seconds = time.perf_counter() - started
                built.append(BuiltModel(model.name, model.kind, rows, seconds, time.process_time() - cpu_started))
                report(f"{model.name}: {model.kind}, {rows} rows, {seconds:.2f}s")
            for warning in check_models(client, models, dialect=dialect, dataset=dataset):
                if progress is None:
                    logger.warning(warning)
                report(f"warning: {warning}")
            report(f"grain and data checks passed for {len(models)} models")
    return built


def drop_models(pipeline: Any, *, models_dir: Path = SQL_DIR) -> list[str]:
    """Drop every model relation in the pipeline's dataset, dependents first; returns the names dropped.

    Call it before dlt drops raw tables (`refresh="drop_sources"`, `dlt pipeline drop`): Postgres
    refuses to drop a table that a view (here: the staging views) depends on. Relations that do not
    exist are skipped; the raw tables are never touched.
    """
    models = load_models(models_dir)
    destination_type = _destination_type(pipeline)
    dialect = dialect_for_destination(destination_type)
    dropped: list[str] = []
    with pipeline.sql_client() as client:
        if not client.has_dataset():
            return dropped
        catalog, schema = _split_dataset(".".join(client.make_qualified_table_name_path(None, quote=False)))
        existing = _existing_relations(client, dialect)
        transaction = client.begin_transaction() if destination_type in TRANSACTIONAL_DESTINATIONS else contextlib.nullcontext()
        with transaction:
            for model in reversed(models):
                kind = existing.get(model.name.lower())
                if kind is None:
                    continue
                drop = exp.Drop(tables=[_table(model.name, schema, catalog)], kind=kind.upper(), exists=True, cascade=dialect == "postgres")
                _execute(client, model, dialect, drop.sql(dialect=dialect))
                dropped.append(model.name)
    return dropped


def check_models(client: Any, models: list[Model], *, dialect: str, dataset: str) -> list[str]:
    """Run every model's YAML checks once all are built; returns the warnings (values outside an
    accepted list, named with their row counts). Raises ModelError on the first failing check
    (a relationship, range or not_above rule), naming the model, the rule and example keys."""
    catalog, schema = _split_dataset(dataset)
    tables = {model.name: _table(model.name, schema, catalog) for model in models}
    warnings: list[str] = []
    for model in models:
        try:
            checks = checks_sql(tables[model.name], model.docs, tables, dialect)
        except DocsError as exc:
            raise ModelError(f"model {model.name}: {exc}") from None
        for check in checks:
            rows = _execute(client, model, dialect, check.sql) or []
            if not rows:
                continue
            total = int(rows[0][1])
            examples = "; ".join("(" + ", ".join(_show(value) for value in row[2:]) + f") x{int(row[0])}" for row in rows)
            if check.severity == "warn":
                warnings.append(f"model {model.name}: {check.what} in {total} row(s): {examples}")
            else:
                raise ModelError(f"model {model.name} fails its check {check.what}: {total} row(s), e.g. {examples}")
    return warnings


def check_grain(client: Any, model: Model, *, dialect: str, dataset: str) -> int:
    """The row count of `model`; raises ModelError if a grain key repeats or a non-nullable key column is null."""
    total_rows, offending_keys = (_execute(client, model, dialect, grain_summary_sql(model, dialect=dialect, dataset=dataset)) or [(0, 0)])[
        0
    ]
    if offending_keys:
        rows = _execute(client, model, dialect, grain_check_sql(model, dialect=dialect, dataset=dataset)) or []
        examples = "; ".join("(" + ", ".join(_show(value) for value in row[:-1]) + f") x{row[-1]}" for row in rows[:GRAIN_EXAMPLES])
        nullable = f" ({', '.join(sorted(model.nullable_keys))} may be null)" if model.nullable_keys else ""
        raise ModelError(
            f"model {model.name} breaks its grain ({', '.join(model.grain)}){nullable}: "
            f"{offending_keys} key(s) repeated or null, e.g. {examples}"
        )
    return int(total_rows or 0)


def _offending(model: Model, key_rows: exp.Expr) -> exp.Expr:
    """A key group breaks the grain if it has several rows or a null in a non-nullable key column.

    GROUP BY puts all nulls of a column in one group, so a nullable key column is checked for
    uniqueness as if null were one more value (as grouping on a coalesced key would)."""
    condition: exp.Expr = exp.GT(this=key_rows, expression=exp.Literal.number(1))
    for column in model.grain:
        if column not in model.nullable_keys:
            condition = exp.or_(condition, exp.column(_identifier(column)).is_(exp.null()))
    return condition


def grain_summary_sql(model: Model, *, dialect: str, dataset: str) -> str:
    """One row: the model's row count and how many of its key groups break the grain (for a model
    grouped by its grain, only rows with a null in a non-nullable key can)."""
    catalog, schema = _split_dataset(dataset)
    if model.grouped_by_grain:
        nulls: exp.Expr = exp.false()
        for column in model.grain:
            if column not in model.nullable_keys:
                nulls = exp.or_(nulls, exp.column(_identifier(column)).is_(exp.null()))
        null_rows = exp.Case().when(nulls, exp.Literal.number(1)).else_(exp.Literal.number(0))
        return (
            exp.select(
                exp.alias_(exp.Count(this=exp.Star()), "total_rows"),
                exp.alias_(exp.func("COALESCE", exp.Sum(this=null_rows), exp.Literal.number(0)), "offending_keys"),
            )
            .from_(_table(model.name, schema, catalog))
            .sql(dialect=dialect)
        )
    keys = [exp.column(_identifier(column)) for column in model.grain]
    per_key = (
        exp.select(*keys, exp.alias_(exp.Count(this=exp.Star()), "key_rows"))
        .from_(_table(model.name, schema, catalog))
        .group_by(*[key.copy() for key in keys])
    )
    offending = exp.Case().when(_offending(model, exp.column("key_rows")), exp.Literal.number(1)).else_(exp.Literal.number(0))
    summary = exp.select(
        exp.alias_(exp.func("COALESCE", exp.Sum(this=exp.column("key_rows")), exp.Literal.number(0)), "total_rows"),
        exp.alias_(exp.func("COALESCE", exp.Sum(this=offending), exp.Literal.number(0)), "offending_keys"),
    ).from_(exp.alias_(exp.Subquery(this=per_key), "key_groups"))
    return summary.sql(dialect=dialect)


def grain_check_sql(model: Model, *, dialect: str, dataset: str) -> str:
    """Keys of `model` that repeat or have a null in a non-nullable column, worst first."""
    catalog, schema = _split_dataset(dataset)
    keys = [exp.column(_identifier(column)) for column in model.grain]
    query = (
        exp.select(*keys, exp.alias_(exp.Count(this=exp.Star()), "key_rows"))
        .from_(_table(model.name, schema, catalog))
        .group_by(*[key.copy() for key in keys])
        .having(_offending(model, exp.Count(this=exp.Star())))
        .order_by(exp.Ordered(this=exp.column("key_rows"), desc=True))
        .limit(GRAIN_EXAMPLES)
    )
    return query.sql(dialect=dialect)


def _execute(client: Any, model: Model, dialect: str, sql: str) -> Optional[list[Any]]:
    try:
        return client.execute_sql(sql)
    except Exception as exc:  # the destination's driver errors differ; the message names the model
        raise ModelError(f"model {model.name} ({model.kind}) failed on {dialect}: {_first_line(exc)}") from exc


def _destination_type(pipeline: Any) -> str:
    if pipeline.destination is None:
        raise ModelError(f"pipeline {pipeline.pipeline_name} has no destination: give dlt.pipeline(...) one")
    return str(pipeline.destination.destination_type).rsplit(".", 1)[-1]


def _existing_relations(client: Any, dialect: str) -> dict[str, str]:
    """Relations already in the dataset: lower-cased name -> "view" | "table"."""
    info, catalog, schema = information_schema_table(client, "TABLES")
    if dialect == "bigquery":
        # BigQuery has INFORMATION_SCHEMA per dataset, not per project
        info = f"{client.fully_qualified_dataset_name()}.INFORMATION_SCHEMA.TABLES"
        sql, args = f"SELECT table_name, table_type FROM {info}", []
    else:
        sql, args = f"SELECT table_name, table_type FROM {info} WHERE table_schema = %s", [schema]
        if catalog is not None:
            sql, args = sql + " AND table_catalog = %s", args + [catalog]
    rows = client.execute_sql(sql, *args) or []
    return {str(name).lower(): ("view" if "VIEW" in str(kind).upper() else "table") for name, kind in rows}


def _missing_raw_columns(client: Any, dialect: str, tables: list[str]) -> dict[str, list[str]]:
    """Contract columns each loaded raw table lacks: table -> columns."""
    if not tables:
        return {}
    info, catalog, schema = information_schema_table(client, "COLUMNS")
    if dialect == "bigquery":
        info = f"{client.fully_qualified_dataset_name()}.INFORMATION_SCHEMA.COLUMNS"
        sql, args = f"SELECT table_name, column_name FROM {info}", []
    else:
        sql, args = f"SELECT table_name, column_name FROM {info} WHERE table_schema = %s", [schema]
        if catalog is not None:
            sql, args = sql + " AND table_catalog = %s", args + [catalog]
    present: dict[str, set[str]] = {}
    for table, column in client.execute_sql(sql, *args) or []:
        present.setdefault(str(table).lower(), set()).add(str(column).lower())
    missing = {t: [c for c, _ in RAW_TABLES[t] if c.lower() not in present.get(t, set())] for t in tables}
    return {t: columns for t, columns in missing.items() if columns}


def _show(value: Any) -> str:
    return "null" if value is None else str(value)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
