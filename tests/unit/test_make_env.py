"""`make env` (first-hour probe P13): export lines that plain terraform needs on the local default, with no
password in the text; the one secret terraform needs here is read from a private file when evaluated."""

from __future__ import annotations

import stat
import subprocess

from scripts.localdefault import localenv

STATE = localenv.State(
    moto_port=5000,
    moto_pid=1,
    pg_port=5433,
    pg_data="/tmp/pg",
    pg_superuser_password="super-Secret-1",
    app_password="migrator-Secret-2",
)


def test_make_env_prints_no_password_and_evaluates_to_what_terraform_needs(monkeypatch, tmp_path):
    monkeypatch.setattr(localenv, "SECRETS_DIR", tmp_path / "secrets")
    text = localenv.shell_exports(STATE)
    assert "super-Secret-1" not in text and "migrator-Secret-2" not in text
    assert "local-only secret" in text and "unset " in text
    for name in ("database_password", "pgpass"):
        mode = stat.S_IMODE((tmp_path / "secrets" / name).stat().st_mode)
        assert mode == 0o600, name
    shown = '"$TF_VAR_database_password" "$TF_VAR_database_existing_port" "$AWS_ENDPOINT_URL"'
    shell = f'{text}\nprintf "%s|%s|%s" {shown}'
    out = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, check=True).stdout
    assert out == "migrator-Secret-2|5433|http://127.0.0.1:5000"
    # The superuser's password is for psql alone, in a pgpass file, never in the environment.
    assert "127.0.0.1:5433:*:postgres:super-Secret-1" in (tmp_path / "secrets" / "pgpass").read_text()


def test_the_readme_documents_make_env(monkeypatch):
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert 'eval "$(make -s env)"' in readme
