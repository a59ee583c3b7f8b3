"""SQL-file migrations: up/down pairs, leading-comment directives, refusals, line-ending-free checksums."""

from __future__ import annotations

from pathlib import Path

import pytest
from migrator.errors import ManifestError
from migrator.runner.manifest import Migration, sql_pair


def write(directory: Path, name: str, text: str | bytes) -> Path:
    path = directory / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def test_a_pair_gives_id_name_forward_and_reverse(tmp_path):
    write(tmp_path, "0008_add_posts_visibility.up.sql", "ALTER TABLE posts ADD COLUMN visibility text;\n")
    write(tmp_path, "0008_add_posts_visibility.down.sql", "ALTER TABLE posts DROP COLUMN visibility;\n")

    m = sql_pair(tmp_path / "0008_add_posts_visibility")

    assert (m.id, m.name, m.transactional, m.contract) == ("0008", "add_posts_visibility", True, False)
    assert m.forward == "ALTER TABLE posts ADD COLUMN visibility text;\n"
    assert m.reverse == "ALTER TABLE posts DROP COLUMN visibility;\n"
    assert m.reversible and len(m.files) == 2


def test_a_missing_down_file_means_irreversible(tmp_path):
    write(tmp_path, "0009_drop_legacy.up.sql", "-- migrator: contract\nALTER TABLE users DROP COLUMN x;\n")

    m = sql_pair(tmp_path / "0009_drop_legacy")

    assert (
        m.reverse is None
        and not m.reversible
        and m.contract
        and m.files == (str(tmp_path / "0009_drop_legacy.up.sql"),)
    )


def test_directives_in_the_leading_comments(tmp_path):
    write(
        tmp_path,
        "0010_index.up.sql",
        "-- Build the index without blocking writes.\n"
        "-- migrator: no-transaction, contract\n"
        "CREATE INDEX CONCURRENTLY i ON t (c);\n",
    )

    m = sql_pair(tmp_path / "0010_index")

    assert not m.transactional and m.contract
    assert m.forward == "CREATE INDEX CONCURRENTLY i ON t (c);\n"  # header comments are not the SQL


@pytest.mark.parametrize(
    ("up", "message"),
    [
        ("-- migrator: no-transactions\nSELECT 1;\n", "unknown directive 'no-transactions'"),
        ("SELECT 1;\n-- migrator: no-transaction\n", "must be in the file's leading comment lines"),
        ("-- only a comment\n\n", "has no SQL"),
        (b"SELECT '\xff';\n", "is not UTF-8"),
    ],
)
def test_bad_files_are_refused_by_name(tmp_path, up, message):
    write(tmp_path, "0011_bad.up.sql", up)
    with pytest.raises(ManifestError, match=message) as caught:
        sql_pair(tmp_path / "0011_bad")
    assert "0011_bad.up.sql" in str(caught.value)


def test_a_missing_up_file_and_directives_in_the_down_file_are_refused(tmp_path):
    with pytest.raises(ManifestError, match="needs its up file"):
        sql_pair(tmp_path / "0012_nothing")
    write(tmp_path, "0013_x.up.sql", "SELECT 1;\n")
    write(tmp_path, "0013_x.down.sql", "-- migrator: no-transaction\nSELECT 2;\n")
    with pytest.raises(ManifestError, match="directives belong in the up file"):
        sql_pair(tmp_path / "0013_x")


def test_checksums_ignore_line_endings(tmp_path):
    (tmp_path / "lf").mkdir()
    (tmp_path / "crlf").mkdir()
    body = "-- migrator: contract\nALTER TABLE a\n  DROP COLUMN b;\n"
    write(tmp_path / "lf", "0014_x.up.sql", body)
    write(tmp_path / "crlf", "0014_x.up.sql", body.replace("\n", "\r\n"))

    lf, crlf = sql_pair(tmp_path / "lf" / "0014_x"), sql_pair(tmp_path / "crlf" / "0014_x")

    assert crlf.contract and crlf.checksum == lf.checksum
    assert Migration("1", "x", "SELECT 1;\r\nSELECT 2;\r\n", None).checksum == (
        Migration("1", "x", "SELECT 1;\nSELECT 2;\n", None).checksum
    )


def test_version_1_rows_match_whichever_line_endings_recorded_them():
    import hashlib

    def v1(forward: str, reverse: str) -> str:  # what version 1 stored: the text as written
        return hashlib.sha256(f"{forward}\x00{reverse}\x00True".encode()).hexdigest()

    crlf = Migration("1", "x", "SELECT 1;\r\n", "SELECT 2;\r\n")
    lf = Migration("1", "x", "SELECT 1;\n", "SELECT 2;\n")
    recorded_on_lf, recorded_on_crlf = v1("SELECT 1;\n", "SELECT 2;\n"), v1("SELECT 1;\r\n", "SELECT 2;\r\n")
    assert recorded_on_lf == lf.checksum != recorded_on_crlf
    for checkout in (lf, crlf):
        assert checkout.matches(recorded_on_lf, 1) and checkout.matches(recorded_on_crlf, 1)
    assert lf.matches(lf.checksum) and not lf.matches(recorded_on_crlf)  # version 2 rows are exact
    assert not Migration("1", "x", "SELECT 3;\n", "SELECT 2;\n").matches(recorded_on_lf, 1)
