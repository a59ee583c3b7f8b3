"""make lint-migrations: squawk blocks a breaking expand migration and allows it as a contract step."""

from __future__ import annotations

import pytest
from migrator.runner.manifest import Migration

from scripts.tooling import lint_migrations


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
        lambda _source: __import__("migrator.runner.manifest", fromlist=["Manifest"]).Manifest(tuple(bad)),
    )
    assert lint_migrations.main([]) == 1
    assert "BLOCKING" in capsys.readouterr().out


# SQL that makes squawk 2.70 report each rule the lint names. The test learns the names from squawk's own
# report, so a misspelt name (or an alias such as "prefer-timestamptz", which --exclude accepts but squawk
# never reports) cannot pass whatever SQL is listed here.
_RULE_CORPUS = """
ALTER TABLE users DROP COLUMN full_name;
ALTER TABLE users RENAME COLUMN full_name TO name;
ALTER TABLE users ALTER COLUMN username TYPE varchar(20);
ALTER TABLE users ALTER COLUMN username SET NOT NULL;
ALTER TABLE users ADD COLUMN age int NOT NULL;
CREATE INDEX users_name_idx ON users (username);
ALTER TABLE users ADD CONSTRAINT age_positive CHECK (age > 0);
CREATE TABLE t (a int, b smallint, c serial, d varchar(10), e timestamp, f char(3));
"""


def _rule_names_in_the_docstring() -> set[str]:
    import re

    # The docstring names rules in prose: every hyphenated word that is not a kit-specific word or a flag.
    words = set(re.findall(r"(?<![\w-])[a-z]+(?:-[a-z]+)+(?![\w-])", lint_migrations.__doc__ or ""))
    not_rules = {"non-contract", "assume-in-transaction", "lint-migrations"}
    return {w for w in words if w not in not_rules and not w.startswith("kit-")}


def test_every_rule_name_the_lint_mentions_is_one_squawk_reports(tmp_path):
    import json
    import subprocess

    sql = tmp_path / "corpus.sql"
    sql.write_text(_RULE_CORPUS)
    proc = subprocess.run(
        [lint_migrations.squawk_binary(), "--reporter", "json", str(sql)],
        capture_output=True,
        text=True,
        check=False,
    )
    reported = {v["rule_name"] for v in json.loads(proc.stdout)}

    mentioned = set(lint_migrations.EXCLUDED) | lint_migrations.ADVISORY | _rule_names_in_the_docstring()

    assert "ban-drop-column" in mentioned and "require-lock-timeout" in mentioned  # the parsing found them
    assert mentioned - reported == set(), f"not squawk rule names: {sorted(mentioned - reported)}"


def test_a_timestamp_without_time_zone_is_advice_not_a_failure():
    advice = Migration("0001", "add_seen_at", "ALTER TABLE users ADD COLUMN seen_at timestamp;", None)

    outcomes = lint_migrations.lint([advice])

    assert "prefer-timestamp-tz" in {f.rule for f in outcomes[0].findings}
    assert not outcomes[0].blocking and outcomes[0].verdict == "ok (notes)"


def test_a_sql_file_migration_is_linted_in_its_own_file(tmp_path):
    from migrator.runner.manifest import sql_pair

    (tmp_path / "0001_index.up.sql").write_text(
        "-- migrator: no-transaction\n-- why: a comment\nCREATE INDEX users_name_idx ON users (username);\n"
    )

    outcomes = lint_migrations.lint([sql_pair(tmp_path / "0001_index")])

    [finding] = [f for f in outcomes[0].blocking if f.rule == "require-concurrent-index-creation"]
    assert finding.line == 3  # the file's own line number, header included
    assert "0001_index.up.sql" in lint_migrations.report(outcomes)
