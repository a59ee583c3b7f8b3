"""`make traffic COLOR=blue [ROUNDS=3]`: a colour's own query mix, run as that colour's database role, so the
statement inventory of the local default is real.

moto runs no containers, so nothing else would run the application's statements locally. Each colour runs
what its release's code runs over the demo schema (users, posts, follows), with parameters as a driver sends
them: blue is version 1, which reads and writes ``users.full_name``; green is version 2, which uses
``display_name`` (the expand migrations 0004-0006 add and fill it) and never touches ``full_name``, so the
contract step 0007 that drops it is safe once blue is retired, and only then.

It logs in with the colour's own secret, as ECS gives it to the colour's tasks (the deployed environment's
``database_app_secret_arns``). With ``DATABASE_URL`` set (a role allowed to ``SET ROLE`` to the colour's, such
as a superuser) it runs ``SET ROLE`` instead: PostgreSQL records the statements under the colour's role
either way. The last line of standard output is a JSON summary.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
from typing import Any

import psycopg
from psycopg import sql

from scripts.release import environment

# What each release's code runs: (name, SQL with %s parameters, a function of the round's ids -> parameters)
Statement = tuple[str, str, Any]
FIND_USER = "SELECT id FROM users WHERE username = %s"

_V1: list[Statement] = [
    ("sign up", "INSERT INTO users (username, full_name) VALUES (%s, %s) ON CONFLICT (username) DO NOTHING "
     "RETURNING id", lambda r: (r["name"], r["name"].title())),
    ("find user", FIND_USER, lambda r: (r["name"],)),
    ("log in", "SELECT id, username, full_name FROM users WHERE username = %s", lambda r: (r["name"],)),
    ("profile", "SELECT id, username, full_name, created_at FROM users WHERE id = %s", lambda r: (r["me"],)),
    ("rename", "UPDATE users SET full_name = %s WHERE id = %s", lambda r: (r["name"].upper(), r["me"])),
    ("post", "INSERT INTO posts (author_id, body) VALUES (%s, %s) RETURNING id, created_at",
     lambda r: (r["me"], f"hello from {r['name']}")),
    ("edit post", "UPDATE posts SET body = %s WHERE id = %s AND author_id = %s",
     lambda r: ("edited", r["post"], r["me"])),
    ("my posts", "SELECT id, body, created_at FROM posts WHERE author_id = %s "
     "ORDER BY created_at DESC LIMIT %s", lambda r: (r["me"], 20)),
    ("follow", "INSERT INTO follows (follower_id, followee_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
     lambda r: (r["me"], r["other"])),
    ("timeline", "SELECT p.id, p.body, p.created_at, u.username, u.full_name FROM follows f "
     "JOIN posts p ON p.author_id = f.followee_id JOIN users u ON u.id = p.author_id "
     "WHERE f.follower_id = %s ORDER BY p.created_at DESC LIMIT %s", lambda r: (r["me"], 20)),
    ("followers", "SELECT count(*) FROM follows WHERE followee_id = %s", lambda r: (r["other"],)),
    ("who to follow", "SELECT u.id, u.username, u.full_name FROM users u WHERE u.id <> %s AND NOT EXISTS "
     "(SELECT 1 FROM follows f WHERE f.follower_id = %s AND f.followee_id = u.id) "
     "ORDER BY u.created_at DESC LIMIT %s", lambda r: (r["me"], r["me"], 5)),
    ("unfollow", "DELETE FROM follows WHERE follower_id = %s AND followee_id = %s",
     lambda r: (r["me"], r["other"])),
    ("delete post", "DELETE FROM posts WHERE id = %s AND author_id = %s", lambda r: (r["post"], r["me"])),
]  # fmt: skip

_V2: list[Statement] = [
    ("sign up", "INSERT INTO users (username, display_name) VALUES (%s, %s) "
     "ON CONFLICT (username) DO NOTHING RETURNING id", lambda r: (r["name"], r["name"].title())),
    ("find user", FIND_USER, lambda r: (r["name"],)),
    ("log in", "SELECT id, username, display_name FROM users WHERE username = %s", lambda r: (r["name"],)),
    ("profile", "SELECT id, username, display_name, created_at FROM users WHERE id = %s",
     lambda r: (r["me"],)),
    ("rename", "UPDATE users SET display_name = %s WHERE id = %s", lambda r: (r["name"].upper(), r["me"])),
    ("post", "INSERT INTO posts (author_id, body) VALUES (%s, %s) RETURNING id, created_at",
     lambda r: (r["me"], f"hello from {r['name']}")),
    ("my posts", "SELECT p.id, p.body, p.created_at FROM posts p WHERE p.author_id = %s "
     "ORDER BY p.created_at DESC LIMIT %s", lambda r: (r["me"], 20)),
    ("follow", "INSERT INTO follows (follower_id, followee_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
     lambda r: (r["me"], r["other"])),
    ("timeline", "SELECT p.id, p.body, p.created_at, u.username, u.display_name FROM follows f "
     "JOIN posts p ON p.author_id = f.followee_id JOIN users u ON u.id = p.author_id "
     "WHERE f.follower_id = %s ORDER BY p.created_at DESC LIMIT %s", lambda r: (r["me"], 20)),
    ("followers", "SELECT u.id, u.display_name FROM follows f JOIN users u ON u.id = f.follower_id "
     "WHERE f.followee_id = %s ORDER BY f.created_at DESC LIMIT %s", lambda r: (r["other"], 20)),
    ("unfollow", "DELETE FROM follows WHERE follower_id = %s AND followee_id = %s",
     lambda r: (r["me"], r["other"])),
    ("delete post", "DELETE FROM posts WHERE id = %s AND author_id = %s", lambda r: (r["post"], r["me"])),
]  # fmt: skip

WORKLOADS: dict[str, list[Statement]] = {"blue": _V1, "green": _V2}


class TrafficError(RuntimeError):
    """The workload could not run; the message says what to do."""


def run(conn: psycopg.Connection, color: str, rounds: int = 3) -> dict[str, Any]:
    """Run ``color``'s workload ``rounds`` times on ``conn`` (autocommit, already the colour's role). Each
    round signs up two users, so follows and posts have someone to point at."""
    workload = WORKLOADS[color]
    executed = 0
    for _ in range(rounds):
        tag = secrets.token_hex(4)
        ids: dict[str, Any] = {"name": f"{color}_{tag}"}
        other = f"{color}_{tag}_friend"
        for name, text, params in workload:
            if name == "sign up":
                conn.execute(text, (other, other.title())).fetchall()
                ids["other"] = conn.execute("SELECT id FROM users WHERE username = %s", (other,)).fetchone()[
                    0
                ]
            cursor = conn.execute(text, params(ids))  # type: ignore[arg-type]  # fixed workload SQL
            executed += 1
            row = cursor.fetchone() if cursor.description else None
            if name == "sign up":
                ids["me"] = row[0] if row else ids["other"]
            elif name == "post":
                ids["post"] = row[0]
    return {"color": color, "rounds": rounds, "statements": len(workload), "executed": executed}


def connect_as(color: str, env: str) -> tuple[psycopg.Connection, str]:
    """A connection that runs as ``color``'s role, and how it got there."""
    url = os.environ.get("DATABASE_URL")
    if url:
        from migrator.settings import Settings

        # The same names the migrator uses (MIGRATOR_APP_GROUP, MIGRATOR_COLOR_ROLES).
        role = Settings.from_env(os.environ).roles_by_color[color]
        conn = psycopg.connect(url, autocommit=True)
        conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
        return conn, f"DATABASE_URL, SET ROLE {role}"
    ws = environment.workspace(env)
    ws.init()
    arn = (ws.outputs().get("database_app_secret_arns") or {}).get(color)
    if not arn:
        raise TrafficError(
            f"ENV={env} has no secret for {color}'s role: deploy it first (`make apply COLOR=...`), or set "
            "DATABASE_URL to a role that may SET ROLE to the colour's"
        )
    ws.export_aws_env()
    import boto3

    secret = json.loads(boto3.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"])
    conn = psycopg.connect(
        host=secret["host"],
        port=secret["port"],
        dbname=secret["dbname"],
        user=secret["username"],
        password=secret["password"],
        autocommit=True,
        application_name=f"release-kit-traffic-{color}",
    )
    return conn, f"{secret['username']}, with its secret"


def main() -> int:
    color = os.environ.get("KIT_COLOR") or ""
    env = os.environ.get("KIT_ENV") or environment.LOCAL_ENV
    started = time.monotonic()
    try:
        environment.check_color(color, "traffic")
        raw_rounds = (os.environ.get("KIT_ROUNDS") or "3").strip()
        if not raw_rounds.isdigit() or not 1 <= int(raw_rounds) <= 1000:
            raise TrafficError(
                f"ROUNDS must be a whole number from 1 to 1000, e.g. ROUNDS=3 (got {raw_rounds!r})"
            )
        conn, how = connect_as(color, env)
        with conn:
            environment.say(f"==> {color}'s workload as {how}: {raw_rounds} round(s)")
            summary = run(conn, color, int(raw_rounds))
    except (TrafficError, environment.ReleaseError, psycopg.Error) as exc:
        environment.say(f"error: {exc}")
        print(json.dumps({"ok": False, "color": color or None, "error": str(exc)}))
        return 1
    summary["ok"] = True
    summary["duration_s"] = round(time.monotonic() - started, 1)
    environment.say(
        f"    ran {summary['executed']} statements ({summary['statements']} distinct); `make statements "
        f"COLOR={color}` shows what the inventory recorded"
    )
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
