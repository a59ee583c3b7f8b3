"""scripts/lint_migrations.py: squawk blocks a breaking expand migration and allows it as a contract step."""

from __future__ import annotations

import pytest
from migrator.migration import Migration

from scripts import lint_migrations


def test_the_project_migrations_pass(capsys):
    assert lint_migrations.main([]) == 0
    assert "no blocking findings" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("sql", "rule", "transactional"),
    [
        ("ALTER TABLE users DROP COLUMN full_name;", "ban-drop-column", True),
        ("ALTER TABLE users RENAME COLUMN full_name TO name;", "renaming-column", True),
        ("ALTER TABLE users ALTER COLUMN username TYPE varchar(20);", "changing-column-type", True),
        ("ALTER TABLE users ADD COLUMN age int NOT NULL;", "adding-required-field", True),
        ("CREATE INDEX users_name_idx ON users (username);", "require-concurrent-index-creation", True),
        (
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS users_name_idx ON users (username);",
            "kit-concurrently-needs-transactional-false",
            True,
        ),
        ("CREATE INDEX users_name_idx ON users (username);", "require-concurrent-index-creation", False),
    ],
)
def test_a_breaking_expand_migration_fails(sql, rule, transactional):
    bad = Migration("0001", "breaking", sql, None, transactional=transactional)

    outcomes = lint_migrations.lint([bad])

    assert rule in {f.rule for f in outcomes[0].blocking}
    assert outcomes[0].verdict == "FAIL"
    assert "would break the release" in lint_migrations.report(outcomes)


def test_the_same_sql_as_a_contract_step_is_reported_but_allowed():
    contract = Migration(
        "0001", "drop_legacy", "ALTER TABLE users DROP COLUMN full_name;", None, contract=True
    )

    outcomes = lint_migrations.lint([contract])

    assert outcomes[0].findings and not outcomes[0].blocking
    assert outcomes[0].verdict == "allowed (contract)"


def test_main_exits_non_zero_on_a_violation(monkeypatch, capsys):
    bad = [Migration("0001", "drop", "ALTER TABLE users DROP COLUMN full_name;", None)]
    monkeypatch.setattr(
        lint_migrations,
        "load_manifest",
        lambda _source: __import__("migrator.migration", fromlist=["Manifest"]).Manifest(tuple(bad)),
    )
    assert lint_migrations.main([]) == 1
    assert "BLOCKING" in capsys.readouterr().out
