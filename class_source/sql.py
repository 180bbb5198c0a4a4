"""`class-elt sql`: one query on the warehouse, printed as a table (no DuckDB CLI needed)."""

from __future__ import annotations

from typing import Any

from .errors import ModelError


def print_query(pipeline: Any, query: str, max_rows: int = 40) -> None:
    """Run `query` through the pipeline's SQL client and print at most `max_rows` rows of it."""
    with pipeline.sql_client() as client:
        try:
            with client.execute_query(query) as cursor:
                columns = [column[0] for column in cursor.description or ()]
                rows = cursor.fetchmany(max_rows + 1)
        except Exception as exc:  # noqa: BLE001 - the database's own message is the useful one
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"the query failed: {first_line}") from None
    if not columns:
        print("(no result)")
        return
    print(format_table(columns, rows[:max_rows]))
    if len(rows) > max_rows:
        print(f"(first {max_rows} rows; --max-rows shows more)")


def format_table(columns: list[str], rows: list[tuple[Any, ...]]) -> str:
    """A plain-text table: a header, a rule, one line per row; long values are cut at 40 characters."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max([len(name)] + [len(row[i]) for row in cells]) for i, name in enumerate(columns)]
    lines = ["  ".join(name.ljust(width) for name, width in zip(columns, widths)).rstrip()]
    lines.append("  ".join("-" * width for width in widths))
    lines += ["  ".join(value.ljust(width) for value, width in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= 40 else text[:39] + "…"
