"""`class-elt`: load a Class account into a warehouse, check a key, build models, run the emulator."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import RESOURCES, interrupts, project
from .errors import ClassEltError, ConfigError, UsageError
from .redact import RedactingFilter, redact

PIPELINE_NAME = "class_elt"
DEFAULT_DATASET = "class_data"
DEMO_DATABASE = "class_demo.duckdb"

# dlt settings the connector relies on, applied unless the user configured them otherwise:
# replaced tables are rewritten from a staging copy inside one transaction (with DuckDB's
# transactions turned on in destinations.py), so dashboards never see a half-empty table;
# a package the destination rejects is set aside rather than retried by every later run (recovery.py).
DLT_DEFAULTS = {
    "DESTINATION__REPLACE_STRATEGY": "insert-from-staging",
    "RUNTIME__LOG_LEVEL": "WARNING",
    "LOAD__AUTO_ABORT_ON_TERMINAL_ERROR": "true",
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    for key, value in DLT_DEFAULTS.items():
        os.environ.setdefault(key, value)
    _log_to_stderr()
    interrupts.step(args.command.__name__.removeprefix("cmd_"))
    # the emulator is stopped by Ctrl-C as a matter of course: it keeps Python's own handling
    stopping = interrupts.stop_on_signals() if args.command is not cmd_emulator else contextlib.nullcontext()
    try:
        with stopping:
            return int(args.command(args) or 0)
    except KeyboardInterrupt:
        print("class-elt: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - expected failures become one line, the rest re-raise
        reason = expected_failure(exc)
        if reason is None:
            raise
        print(f"class-elt: error: {redact(reason)}", file=sys.stderr)
        return 1


class _StderrHandler(logging.Handler):
    """Writes to whatever sys.stderr is at the time (tests swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        print(self.format(record), file=sys.stderr)


def _log_to_stderr() -> None:
    logger = logging.getLogger("class_elt")
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("class-elt: %(levelname)s: %(message)s"))
        handler.addFilter(RedactingFilter())
        logger.addHandler(handler)
        logger.setLevel(logging.INFO if os.environ.get("CLASS_ELT_VERBOSE") else logging.WARNING)
        logger.propagate = False
        # dlt's own log lines: redacted too, and one line each unless verbose
        logging.getLogger("dlt").addFilter(RedactingFilter(first_line_only=not os.environ.get("CLASS_ELT_VERBOSE")))


def expected_failure(exc: BaseException) -> str | None:
    """The one-line reason of an expected failure anywhere in `exc`'s chain, else None."""
    from .dlt_compat import ConfigFieldMissingException

    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ClassEltError):
            return str(current)
        destination_reason = _destination_failure(current) or _load_failure(current)
        if destination_reason:
            return destination_reason
        if isinstance(current, ConfigFieldMissingException):
            fields = ", ".join(current.fields)
            return (
                f"missing configuration {fields}: set SOURCES__CLASS_API__BASE_URL and SOURCES__CLASS_API__API_KEY "
                "(or .dlt/config.toml and .dlt/secrets.toml), see README 'Configuration'"
            )
        pending.extend([getattr(current, "exception", None), current.__cause__, current.__context__])
    return None


def _destination_failure(exc: BaseException) -> str | None:
    from .destination_failures import destination_failure

    return destination_failure(exc)


def _load_failure(exc: BaseException) -> str | None:
    from .recovery import load_failure

    return load_failure(exc)


# --- commands --------------------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    import dlt

    from . import embedded_source
    from .destination_fit import adapt_source
    from .destinations import make_destination
    from .lake import models_target
    from .progress import TerminalProgress
    from .runner import load

    resources = _resource_list(args.resources)
    destination, run_kwargs = make_destination(args.destination)
    pipeline = project.pipeline(args.pipeline_name, destination, args.dataset_name)
    models = models_target(pipeline, args.models_database)  # a wrong option fails before anything runs
    progress = TerminalProgress()
    source = embedded_source(progress=progress)
    if resources:
        source = source.with_resources(*resources)
    source = adapt_source(source, pipeline.destination, run_kwargs)
    load(
        pipeline,
        source,
        progress,
        full_refresh=args.full_refresh,
        build_models=not args.no_models,
        run_kwargs=run_kwargs,
        models=models,
        publish=args.publish or dlt.config.get("class_elt.publish"),
        report=args.report,
    )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    import dlt

    from . import embedded_source
    from .destination_fit import adapt_source
    from .emulator import Emulator
    from .progress import TerminalProgress
    from .runner import load

    database = Path(args.output).resolve()
    print(f"class-elt demo: a synthetic school of {args.classes} classes (seed {args.seed}) on a local Class API emulator")
    emulator = Emulator(seed=args.seed, classes=args.classes, latency_ms=args.latency_ms)
    api_key = emulator.mint_key()
    with emulator.serve(host="127.0.0.1", port=0) as base_url:
        print(f"emulator serving at {base_url}; loading into {database}")
        pipeline = project.pipeline(
            project.DEMO_PIPELINE,
            dlt.destinations.duckdb(str(database), supports_transactions=True),  # see destinations.py
            DEFAULT_DATASET,
        )
        progress = TerminalProgress()
        source = adapt_source(embedded_source(base_url=base_url, api_key=api_key, progress=progress), pipeline.destination, {})
        report = database.with_name("class_demo_report.html")
        load(pipeline, source, progress, full_refresh=True, build_models=True, report=report)
    print(
        f"\nquery it:  uv run class-elt sql --pipeline-name {project.DEMO_PIPELINE} "
        f'"select * from {DEFAULT_DATASET}.fct_session_attendance limit 10"'
    )
    print(f"the warehouse is {database} (marts in {DEFAULT_DATASET}, see README 'Dashboards'); open the report:")
    print(report)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    import dlt

    from .scopes import RESOURCE_SCOPES, missing_scopes, verify_class_api
    from .session import ApiSession

    base_url: Any = dlt.config.get("sources.class_api.base_url")
    api_key: Any = dlt.secrets.get("sources.class_api.api_key")
    if not base_url or not api_key:
        raise ConfigError(
            "missing configuration: set SOURCES__CLASS_API__BASE_URL and SOURCES__CLASS_API__API_KEY "
            "(or .dlt/config.toml and .dlt/secrets.toml)"
        )
    session = ApiSession(str(base_url), str(api_key))
    try:
        session.run(verify_class_api(session.client))  # a 404-everything server would pass every scope check
        granted = session.key_scopes()
    finally:
        session.close()
    print(f"API key accepted by {session.client.base_url}")
    ok = True
    for resource in RESOURCE_SCOPES:
        missing = missing_scopes(resource, granted)
        ok &= not missing
        status = "ok" if not missing else "MISSING " + ", ".join(missing)
        print(f"  {resource:<17} {', '.join(RESOURCE_SCOPES[resource]):<32} {status}")
    if not ok:
        print("some resources cannot be loaded: grant the missing scopes, or set skip_missing_scopes = true")
    return 0 if ok else 1


def cmd_models(args: argparse.Namespace) -> int:

    from .destinations import make_destination
    from .lake import models_target
    from .runner import build

    name = args.pipeline_name
    if not project.has_run(name):
        if name != PIPELINE_NAME or not project.has_run(project.DEMO_PIPELINE):
            raise UsageError(
                f"pipeline {name!r} has not loaded anything in this project ({project.pipelines_dir()}): "
                "run `class-elt run` first, or name the pipeline that did with --pipeline-name"
            )
        print(f"pipeline {name!r} has not run here; building the models of the demo's pipeline {project.DEMO_PIPELINE!r}")
        name = project.DEMO_PIPELINE
    destination, _ = make_destination(args.destination)
    pipeline = project.pipeline(name, destination, args.dataset_name)
    build(models_target(pipeline, args.models_database))
    return 0


def cmd_sql(args: argparse.Namespace) -> int:
    from .destinations import make_destination
    from .lake import models_target
    from .sql import print_query

    _require_run(args.pipeline_name)
    destination, _ = make_destination(args.destination)
    pipeline = project.pipeline(args.pipeline_name, destination, args.dataset_name)
    print_query(models_target(pipeline, args.models_database), args.query, max_rows=args.max_rows)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from .destinations import make_destination
    from .lake import models_target
    from .report import default_report_path, write_report

    _require_run(args.pipeline_name)
    destination, _ = make_destination(args.destination)
    pipeline = project.pipeline(args.pipeline_name, destination, args.dataset_name)
    print(write_report(models_target(pipeline, args.models_database), args.output or default_report_path(args.pipeline_name)))
    return 0


def cmd_emulator(args: argparse.Namespace) -> int:
    from .emulator import ALL_SCOPES, Emulator, FaultConfig
    from .emulator.readings import readings_from_args

    scopes = tuple(s.strip() for s in args.scopes.split(",") if s.strip()) if args.scopes else ALL_SCOPES
    unknown = sorted(set(scopes) - set(ALL_SCOPES))
    if unknown:
        raise UsageError(f"unknown scope(s) {', '.join(unknown)}; known: {', '.join(ALL_SCOPES)}")
    if not 0 <= args.fault_rate <= 1:
        raise UsageError(f"--fault-rate must be between 0 and 1, got {args.fault_rate}")
    _require_free_port(args.host, args.port)  # before printing a key for a server that cannot start
    try:
        readings = readings_from_args(args)
    except ValueError as error:
        raise UsageError(f"emulator readings: {error}") from None
    emulator = Emulator(
        seed=args.seed,
        classes=args.classes,
        latency_ms=args.latency_ms,
        faults=FaultConfig(rate=args.fault_rate),
        readings=readings,
    )
    print(f"API readings: {readings.summary()}", file=sys.stderr)
    api_key = emulator.mint_key(scopes=scopes)
    print(f"export SOURCES__CLASS_API__BASE_URL=http://{args.host}:{args.port}")
    print(f"export SOURCES__CLASS_API__API_KEY={api_key}")
    sys.stdout.flush()
    emulator.serve_forever(args.host, args.port)
    return 0


def _resource_list(raw: str | None) -> list[str]:
    if not raw:
        return []
    names = [name.strip() for name in raw.split(",") if name.strip()]
    unknown = [name for name in names if name not in RESOURCES]
    if unknown:
        raise UsageError(f"unknown resource(s) {', '.join(unknown)}; choose from {', '.join(RESOURCES)}")
    return names


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="class-elt", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help, formatter_class=_HelpWithDefaults)

    def warehouse_options(subcommand: argparse.ArgumentParser) -> None:
        subcommand.add_argument(
            "--destination",
            default="duckdb",
            help="duckdb, postgres, filesystem (Delta tables), motherduck, bigquery or snowflake",
        )
        subcommand.add_argument("--dataset-name", default=DEFAULT_DATASET, help="the dataset (schema) the tables land in")
        subcommand.add_argument("--pipeline-name", default=PIPELINE_NAME, help=f"dlt pipeline name (the demo's is {project.DEMO_PIPELINE})")
        subcommand.add_argument(
            "--models-database",
            help="filesystem destination: the DuckDB file the SQL models are built in (default: ./<pipeline-name>_models.duckdb)",
        )

    demo = command("demo", help="load a synthetic school from the embedded emulator into ./class_demo.duckdb")
    demo.add_argument("--classes", type=_positive_int, default=50, help="classes in the synthetic school")
    demo.add_argument("--seed", type=int, default=7, help="the school's random seed (same seed, same school)")
    demo.add_argument("--latency-ms", type=_non_negative_float, default=0.0, help="time the emulator takes per request")
    demo.add_argument("--output", default=DEMO_DATABASE, help="the DuckDB file to load")
    demo.set_defaults(command=cmd_demo)

    run = command("run", help="load the configured Class account into the warehouse")
    warehouse_options(run)
    run.add_argument("--resources", help=f"comma-separated subset of: {', '.join(RESOURCES)}")
    run.add_argument("--full-refresh", action="store_true", help="drop this source's tables and cursors first")
    run.add_argument("--no-models", action="store_true", help="skip building the SQL models")
    run.add_argument(
        "--publish",
        metavar="PATH",
        help="after the models, copy the marts to this DuckDB file for BI tools (replaced atomically; "
        "default: [class_elt] publish in config)",
    )
    run.add_argument("--report", metavar="PATH", help="after the models, write the HTML report to this file")
    run.set_defaults(command=cmd_run)

    check = command("check", help="verify the API key and the scope of every resource")
    check.set_defaults(command=cmd_check)

    models = command("models", help="build the SQL models in sql/ on the loaded dataset")
    warehouse_options(models)
    models.set_defaults(command=cmd_models)

    sql = command("sql", help="run one SQL query on the warehouse and print the result as a table")
    sql.add_argument("query", help='e.g. "select * from class_data.dim_classes limit 5"')
    warehouse_options(sql)
    sql.add_argument("--max-rows", type=_positive_int, default=40, help="rows printed at most")
    sql.set_defaults(command=cmd_sql)

    report = command("report", help="write the self-contained HTML report of the marts")
    warehouse_options(report)
    report.add_argument("--output", metavar="PATH", help="HTML file (default: ./<pipeline-name>_report.html)")
    report.set_defaults(command=cmd_report)

    emulator = command("emulator", help="serve a synthetic Class API on loopback")
    emulator.add_argument("--host", default="127.0.0.1", help="address to serve on (loopback: the key travels in clear)")
    emulator.add_argument("--port", type=int, default=8765, help="port to serve on")
    emulator.add_argument("--classes", type=_positive_int, default=200, help="classes in the synthetic school")
    emulator.add_argument("--seed", type=int, default=7, help="the school's random seed (same seed, same school)")
    emulator.add_argument("--latency-ms", type=_non_negative_float, default=0.0, help="time each request takes")
    emulator.add_argument("--fault-rate", type=float, default=0.0, help="share of requests failing (500/503/429, drops, ...)")
    emulator.add_argument("--scopes", help="comma-separated scopes for the minted key (default: all)")
    from .emulator.readings import add_reading_arguments  # readings.py itself needs only the standard library

    add_reading_arguments(emulator)
    emulator.set_defaults(command=cmd_emulator)
    return parser


class _HelpWithDefaults(argparse.HelpFormatter):
    """Every option's help ends with its default, when it has one worth saying."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        worth_saying = not any(action.default is nothing for nothing in (None, False, argparse.SUPPRESS))
        if worth_saying and "default" not in text:
            text += " (default: %(default)s)"
        return text


def _require_run(pipeline_name: str) -> None:
    if not project.has_run(pipeline_name):
        raise UsageError(
            f"pipeline {pipeline_name!r} has not loaded anything in this project ({project.pipelines_dir()}): "
            f"run `class-elt run` (or `class-elt demo`, then --pipeline-name {project.DEMO_PIPELINE}) first"
        )


def _require_free_port(host: str, port: int) -> None:
    import socket

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise UsageError(f"cannot serve on {host}:{port} ({exc.strerror}): choose another port with --port") from None


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


if __name__ == "__main__":
    sys.exit(main())
