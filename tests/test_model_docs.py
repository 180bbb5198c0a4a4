"""The YAML beside a model (class_source/model_docs.py): what load_models accepts and refuses, and
the SQL its docs and checks become. Running the checks on a warehouse is in tests/test_models.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from class_source.model_docs import checks_sql, comment_statements, load_docs
from class_source.models import ModelError, load_models

SQL = "-- grain: class_id\n-- purpose: Test mart.\n--   Second line of the purpose.\nselect 'c1' as class_id, 0.5 as rate\n"


def _model(tmp_path: Path, yml: str | None, sql: str = SQL) -> Path:
    (tmp_path / "marts").mkdir(exist_ok=True)
    (tmp_path / "marts" / "fct_t.sql").write_text(sql)
    if yml is not None:
        (tmp_path / "marts" / "fct_t.yml").write_text(yml)
    return tmp_path


def test_without_a_yaml_the_description_is_the_whole_purpose(tmp_path: Path) -> None:
    (model,) = load_models(_model(tmp_path, None))
    assert model.description == "Test mart. Second line of the purpose."
    assert model.docs.columns == {}


def test_docs_and_checks_are_read(tmp_path: Path) -> None:
    yml = (
        "description: One row per class.\n"
        "columns:\n  class_id: The class.\n  rate: A share,\n    over two lines.\n"
        "checks:\n  ranges:\n    rate: [0, null]\n"
        "  accepted_values:\n    - {columns: [class_id], values: [c1, c2]}\n"
    )
    (model,) = load_models(_model(tmp_path, yml))
    assert model.description == "One row per class."
    assert model.docs.columns == {"class_id": "The class.", "rate": "A share, over two lines."}
    assert model.docs.ranges == {"rate": (0.0, None)}
    assert [a.values for a in model.docs.accepted_values] == [(("c1",), ("c2",))]


@pytest.mark.parametrize(
    ("yml", "message"),
    [
        ("columns: [a, b\n", r"fct_t\.yml is not valid YAML"),
        ("colums:\n  class_id: x\n", r"unknown key\(s\) colums"),
        ("columns:\n  class_id: ''\n", r"columns must map each column to a one-line description"),
        ("checks:\n  unique:\n    - class_id\n", r"unknown check kind\(s\) unique"),
        ("columns:\n  clas_id: The class.\n", r"names column\(s\) clas_id that are not among its output columns"),
        ("checks:\n  relationships:\n    - {columns: [class_id], to: dim_nothing}\n", r"relationship to dim_nothing, which is not a model"),
        ("checks:\n  relationships:\n    - {columns: [class_id], to: fct_t, to_columns: [a, b]}\n", r"malformed check"),
    ],
)
def test_a_malformed_yaml_is_a_one_line_error_at_load(tmp_path: Path, yml: str, message: str) -> None:
    with pytest.raises(ModelError, match=rf"^model fct_t: .*{message}") as raised:
        load_models(_model(tmp_path, yml))
    assert "\n" not in str(raised.value)


def test_comments_quote_their_text_for_each_dialect(tmp_path: Path) -> None:
    docs = load_docs(_model(tmp_path, "columns:\n  class_id: The class's id.\n") / "marts" / "fct_t.yml", "fct_t")
    table = exp.Table(this=exp.to_identifier("fct_t"), db=exp.to_identifier("class_data"))
    assert comment_statements(table, "table", docs, "It's a test.", "postgres") == [
        "COMMENT ON TABLE class_data.fct_t IS 'It''s a test.'",
        "COMMENT ON COLUMN class_data.fct_t.class_id IS 'The class''s id.'",
    ]
    assert comment_statements(table, "view", docs, "It's a test.", "bigquery") == [
        "ALTER VIEW class_data.fct_t SET OPTIONS (description='It\\'s a test.')",
        "ALTER VIEW class_data.fct_t ALTER COLUMN class_id SET OPTIONS (description='The class\\'s id.')",
    ]


def test_every_check_is_one_query_of_each_dialect(tmp_path: Path) -> None:
    yml = (
        "checks:\n  relationships:\n    - {columns: [class_id], to: fct_t, where: \"rate > 0\"}\n"
        "  ranges:\n    rate: [0, 1]\n  not_above:\n    rate: rate\n"
        "  accepted_values:\n    - {columns: [class_id], values: [c1]}\n"
    )
    (model,) = load_models(_model(tmp_path, yml))
    table = exp.Table(this=exp.to_identifier("fct_t"), db=exp.to_identifier("class_data"))
    for dialect in ("duckdb", "postgres", "bigquery", "snowflake"):
        checks = checks_sql(table, model.docs, {"fct_t": table}, dialect)
        assert [(c.severity, c.what) for c in checks] == [
            ("fail", "(class_id) with no row in fct_t (where rate > 0)"),
            ("fail", "rate outside [0.0, 1.0]"),
            ("fail", "rate above rate"),
            ("warn", "undocumented class_id"),
        ]
        for check in checks:
            (statement,) = sqlglot.parse(check.sql, read=dialect)
            assert isinstance(statement, exp.Select)
