"""What a migration's SQL says about transactions (by PostgreSQL's parser), the runner's rule about it, and
the manifest's no-op reverses and origins."""

from __future__ import annotations

import pytest
from migrator.errors import ManifestError, OwnTransaction
from migrator.runner.manifest import Manifest, Migration, is_noop, sql_pair
from migrator.runner.transactions import (
    control_statements,
    outside_transaction_statements,
    refuse_own_transactions,
    unwrap,
)

FUNCTION = """CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.x IS NULL THEN NEW.x := 1; END IF;
    COMMIT;  -- inside the body: not the file's transaction control
    RETURN NEW;
END;
$$;
DO $$ BEGIN PERFORM 1; END $$;
SELECT 'BEGIN; COMMIT;';
-- COMMIT;
"""


def test_the_parser_finds_top_level_transaction_control_only():
    assert control_statements(FUNCTION) == []
    found = control_statements("-- wrap\nBEGIN;\nCREATE TABLE t (id int);\nSAVEPOINT a;\nEND;\nABORT;\n")
    assert [(c.keyword, c.line) for c in found] == [
        ("BEGIN", 2),
        ("SAVEPOINT", 4),
        ("COMMIT", 5),
        ("ROLLBACK", 6),
    ]
    assert control_statements("START TRANSACTION ISOLATION LEVEL SERIALIZABLE; COMMIT AND CHAIN;")[0].options


def test_unwrap_removes_exactly_a_whole_file_begin_commit():
    text = "-- header\nBEGIN;\n\nCREATE TABLE t (id int); -- why\n/* keep */\nCOMMIT;\n"
    assert unwrap(text) == "-- header\n\nCREATE TABLE t (id int); -- why\n/* keep */\n"
    assert unwrap("begin work; select 1; end transaction") == " select 1; "
    # Not that shape: options, two transactions, control in the middle, nothing to unwrap
    assert unwrap("BEGIN ISOLATION LEVEL SERIALIZABLE; SELECT 1; COMMIT;") is None
    assert unwrap("BEGIN; SELECT 1; COMMIT; BEGIN; SELECT 2; COMMIT;") is None
    assert unwrap("SELECT 0; BEGIN; SELECT 1; COMMIT;") is None
    assert unwrap("BEGIN; SELECT 1; ROLLBACK;") is None
    assert unwrap(FUNCTION) is None


def test_statements_that_cannot_run_in_a_transaction_block():
    sql = (
        "CREATE INDEX CONCURRENTLY i ON t (c);\nCREATE INDEX j ON t (c);\nVACUUM t;\nANALYZE t;\n"
        "REINDEX INDEX CONCURRENTLY i;\nALTER TABLE p DETACH PARTITION c CONCURRENTLY;\n"
        "DROP INDEX CONCURRENTLY i;\n"
    )
    assert outside_transaction_statements(sql) == [
        ("CREATE INDEX CONCURRENTLY", 1),
        ("VACUUM", 3),
        ("REINDEX CONCURRENTLY", 5),
        ("DETACH PARTITION CONCURRENTLY", 6),
        ("DROP INDEX CONCURRENTLY", 7),
    ]
    assert outside_transaction_statements("SELECT 'concurrently vacuum';") == []


def test_the_runner_refuses_transaction_control_inside_its_own_transaction():
    own = Migration("0042", "wrapped", "BEGIN;\nCREATE TABLE t (id int);\nCOMMIT;\n", "DROP TABLE t;")

    with pytest.raises(OwnTransaction) as caught:
        refuse_own_transactions([(own, own.forward, "up")])

    message = caught.value.message
    assert "0042_wrapped (up: BEGIN at line 1, COMMIT at line 3)" in message
    assert "Nothing was run" in message and "-- migrator: no-transaction" in message
    assert caught.value.details == {"own_transaction": ["0042_wrapped"]}
    # A function body's BEGIN is not transaction control; a no-transaction migration runs as written
    refuse_own_transactions([(Migration("1", "f", FUNCTION, None), FUNCTION, "up")])
    honoured = Migration("0043", "batches", own.forward, None, transactional=False)
    refuse_own_transactions([(honoured, honoured.forward, "up")])


def test_a_no_transaction_migration_may_not_end_inside_a_transaction_it_opened():
    unclosed = Migration("0044", "open", "BEGIN;\nUPDATE t SET x = 1;\n", None, transactional=False)

    with pytest.raises(OwnTransaction, match=r"0044_open \(up: BEGIN at line 1\): opens a transaction"):
        refuse_own_transactions([(unclosed, unclosed.forward, "up")])


# --------------------------------------------------------------------------------- no-op reverses, origin


def write(directory, name, text):
    (directory / name).write_text(text)


@pytest.mark.parametrize("down", ["", "\n\n", "-- nothing to undo\n", "/* data only */\n\n-- gone\n"])
def test_an_empty_or_comment_only_down_file_is_a_no_op_reverse(tmp_path, down):
    write(tmp_path, "0001_backfill.up.sql", "UPDATE t SET x = 1;\n")
    write(tmp_path, "0001_backfill.down.sql", down)

    migration = sql_pair(tmp_path / "0001_backfill")

    assert migration.reversible and migration.reverse_noop


def test_a_real_down_file_and_a_missing_one_are_not_no_ops(tmp_path):
    write(tmp_path, "0001_a.up.sql", "CREATE TABLE a (id int);\n")
    write(tmp_path, "0001_a.down.sql", "-- drop it\nDROP TABLE a; -- done\n")
    write(tmp_path, "0002_b.up.sql", "CREATE TABLE b (id int);\n")

    assert not sql_pair(tmp_path / "0001_a").reverse_noop
    irreversible = sql_pair(tmp_path / "0002_b")
    assert not irreversible.reversible and not irreversible.reverse_noop
    assert is_noop("/* a */ -- b\n") and not is_noop("/* a */ SELECT 1;") and not is_noop(None)


def test_an_empty_up_file_is_refused_unless_it_was_imported(tmp_path):
    write(tmp_path, "0001_nothing.up.sql", "-- placeholder\n\n-- still nothing\n")
    with pytest.raises(ManifestError, match="has no SQL after its leading comments"):
        sql_pair(tmp_path / "0001_nothing")

    write(tmp_path, "7_nothing.up.sql", "-- migrator: origin golang-migrate 7\n")
    imported = sql_pair(tmp_path / "7_nothing")
    assert imported.origin == ("golang-migrate", "7") and is_noop(imported.forward)


def test_the_origin_directive_is_checked_and_not_part_of_the_checksum(tmp_path):
    write(
        tmp_path,
        "12_a.up.sql",
        "-- migrator: origin golang-migrate 12\n-- migrator: no-transaction\nSELECT 1;\n",
    )
    write(tmp_path, "13_b.up.sql", "SELECT 1;\n")
    imported = sql_pair(tmp_path / "12_a")
    assert imported.origin == ("golang-migrate", "12") and not imported.transactional
    assert imported.checksum == Migration("12", "a", "SELECT 1;\n", None, transactional=False).checksum

    for line, error in [
        ("-- migrator: origin liquibase 12", "unknown tool 'liquibase'"),
        ("-- migrator: origin golang-migrate v12", "whole numbers"),
        ("-- migrator: origin flyway", "origin <tool> <version>"),
        ("-- migrator: origin flyway 1.x", "dotted numbers"),
    ]:
        write(tmp_path, "14_c.up.sql", f"{line}\nSELECT 1;\n")
        with pytest.raises(ManifestError, match=error):
            sql_pair(tmp_path / "14_c")


def test_two_migrations_imported_from_the_same_version_are_refused():
    a = Migration("0001", "a", "SELECT 1;", None, origin=("flyway", "1.0"))
    b = Migration("0002", "b", "SELECT 2;", None, origin=("flyway", "1"))

    with pytest.raises(ManifestError, match="0001_a and 0002_b were both imported from flyway version 1"):
        Manifest((a, b))
