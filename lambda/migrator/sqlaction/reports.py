"""Named reports: fixed, reviewed SQL for what operators need during a release, so the free ``sql`` action can
stay narrow.

``make migrate ACTION=report NAME=locks`` runs one of :data:`REPORTS` exactly as the free SQL runs: as the
reader role, in a READ ONLY transaction, within the action's deadline and its row and byte caps. What it
skips is the two checks of *free* SQL, because the text is ours: it may call what free SQL may not
(``pg_get_indexdef``, ``pg_get_constraintdef``, ``pg_get_expr`` of a column default), and it names no
function a caller chose. It runs with ``search_path = pg_catalog, pg_temp``, so nothing planted in an
application schema can stand in for a built-in it calls.

What the reader role can see (on RDS as here): it is not a member of ``pg_read_all_stats``, so PostgreSQL
shows it, for other roles' sessions, the pid, role, database, application name and transaction id, but not
the state, the wait event, the times or the query text; and for replication senders only their pid. The
reports use what every role may read instead (``pg_locks`` with ``waitstart``, ``pg_blocking_pids``,
replication slots, the standby's own receive and replay positions) and say, in the result's ``note``, what
stays hidden. Granting ``pg_read_all_stats`` to the reader would show more, and would let it read every
session's query text if both checks of free SQL were bypassed: we do not grant it.

Reports cover the application's schemas (``MIGRATOR_SQL_SCHEMAS``) and only the tables the reader may read,
so an operator's ``REVOKE SELECT`` hides a table's columns, indexes and constraints too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from migrator.errors import InvalidEvent

__all__ = ["REPORTS", "Report", "report_sql"]

_HIDDEN_SESSIONS = (
    "without pg_read_all_stats (not granted to the reader role), PostgreSQL hides the state, wait event and "
    "times of other roles' sessions: they show as null"
)


@dataclass(frozen=True)
class Report:
    description: str
    sql: str  # {schemas} is the application's schemas as a name[] literal
    note: str = ""


_READABLE_TABLES = """
  SELECT c.oid, n.nspname AS schema, c.relname AS table_name
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = ANY ({schemas}) AND c.relkind IN ('r', 'p', 'm')
     AND has_table_privilege(c.oid, 'SELECT')
"""

REPORTS: dict[str, Report] = {
    "locks": Report(
        "who blocks whom: each waiting lock, its relation and mode, how long it has waited, and the sessions "
        "it waits for (no query text)",
        """
SELECT w.pid AS waiting_pid, wa.usename AS waiting_role, wa.application_name AS waiting_application,
       w.locktype, coalesce(n.nspname || '.' || c.relname, w.relation::text) AS relation, w.mode AS wants,
       date_trunc('milliseconds', clock_timestamp() - w.waitstart) AS waiting_for,
       b.pid AS blocking_pid, ba.usename AS blocking_role, ba.application_name AS blocking_application,
       (SELECT string_agg(DISTINCT h.mode, ', ') FROM pg_locks h
         WHERE h.pid = b.pid AND h.granted AND h.locktype = w.locktype
           AND h.relation IS NOT DISTINCT FROM w.relation) AS blocker_holds,
       ba.backend_xid AS blocking_xid
  FROM pg_locks w
 CROSS JOIN LATERAL unnest(pg_blocking_pids(w.pid)) AS b(pid)
  LEFT JOIN pg_stat_activity wa ON wa.pid = w.pid
  LEFT JOIN pg_stat_activity ba ON ba.pid = b.pid
  LEFT JOIN pg_class c ON c.oid = w.relation
  LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE NOT w.granted
 ORDER BY w.waitstart NULLS LAST, w.pid, b.pid
""",
        "relation, modes and wait times come from pg_locks, which every role may read; " + _HIDDEN_SESSIONS,
    ),
    "activity": Report(
        "sessions by role, database, application and state, with how many wait for a lock and how many "
        "hold a transaction id (are writing)",
        """
SELECT a.usename AS role, a.datname AS database, a.application_name,
       coalesce(a.state, 'not visible') AS state, count(*) AS sessions,
       count(*) FILTER (WHERE EXISTS (SELECT FROM pg_locks l WHERE l.pid = a.pid AND NOT l.granted))
         AS waiting_for_a_lock,
       count(a.backend_xid) AS writing,
       date_trunc('seconds', max(clock_timestamp() - a.xact_start)) AS oldest_transaction
  FROM pg_stat_activity a
 WHERE a.pid <> pg_backend_pid() AND a.usename IS NOT NULL AND a.datname IS NOT NULL
   AND (a.backend_type = 'client backend' OR a.backend_type IS NULL)
 GROUP BY 1, 2, 3, 4
 ORDER BY sessions DESC, role, database, application_name, state
""",
        "state and oldest_transaction are shown for the reader role's own sessions only; "
        + _HIDDEN_SESSIONS
        + " (waiting_for_a_lock and writing come from pg_locks and backend_xid, which every role may read)",
    ),
    "indexes": Report(
        "the application's indexes: definition, whether valid and ready (a failed CREATE INDEX CONCURRENTLY "
        "leaves an invalid one), unique or primary, and size",
        f"""
SELECT t.schema, t.table_name, i.relname AS index_name, pg_get_indexdef(x.indexrelid) AS definition,
       x.indisvalid AS valid, x.indisready AS ready, x.indisunique AS "unique", x.indisprimary AS "primary",
       pg_size_pretty(pg_relation_size(x.indexrelid)) AS size
  FROM ({_READABLE_TABLES}) t
  JOIN pg_index x ON x.indrelid = t.oid
  JOIN pg_class i ON i.oid = x.indexrelid
 ORDER BY t.schema, t.table_name, i.relname
""",
    ),
    "constraints": Report(
        "the application's constraints: kind, definition, and whether validated (NOT VALID ones are not)",
        f"""
SELECT t.schema, t.table_name, k.conname AS constraint_name,
       CASE k.contype WHEN 'p' THEN 'primary key' WHEN 'u' THEN 'unique' WHEN 'f' THEN 'foreign key'
            WHEN 'c' THEN 'check' WHEN 'x' THEN 'exclusion' WHEN 't' THEN 'trigger' ELSE k.contype::text END
         AS kind,
       pg_get_constraintdef(k.oid) AS definition, k.convalidated AS validated, k.condeferrable AS deferrable
  FROM ({_READABLE_TABLES}) t
  JOIN pg_constraint k ON k.conrelid = t.oid
 ORDER BY t.schema, t.table_name, k.conname
""",
    ),
    "columns": Report(
        "a \\d-like listing of the application's tables: each column's type, nullability, default, identity, "
        "generation and collation",
        f"""
SELECT t.schema, t.table_name, a.attnum AS position, a.attname AS column_name,
       format_type(a.atttypid, a.atttypmod) AS type, NOT a.attnotnull AS nullable,
       pg_get_expr(d.adbin, d.adrelid) AS "default",
       CASE a.attidentity WHEN 'a' THEN 'always' WHEN 'd' THEN 'by default' END AS identity,
       CASE a.attgenerated WHEN 's' THEN 'stored' END AS generated,
       CASE WHEN a.attcollation <> 0 AND a.attcollation <> ty.typcollation THEN co.collname END AS collation
  FROM ({_READABLE_TABLES}) t
  JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
  JOIN pg_type ty ON ty.oid = a.atttypid
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
  LEFT JOIN pg_collation co ON co.oid = a.attcollation
 ORDER BY t.schema, t.table_name, a.attnum
""",
    ),
    "sequences": Report(
        "the application's sequences: last value and headroom (how many more values before max_value)",
        """
SELECT s.schemaname AS schema, s.sequencename AS sequence, s.data_type::text AS type, s.last_value,
       s.max_value, s.increment_by,
       CASE WHEN s.increment_by > 0
            THEN (s.max_value - coalesce(s.last_value, s.start_value)) / s.increment_by
            ELSE (coalesce(s.last_value, s.start_value) - s.min_value) / -s.increment_by END AS values_left,
       round(100.0 * (coalesce(s.last_value, s.start_value) - s.min_value)
             / nullif(s.max_value - s.min_value, 0), 2) AS percent_used,
       s.cycle
  FROM pg_sequences s
 WHERE s.schemaname = ANY ({schemas})
 ORDER BY percent_used DESC NULLS LAST, schema, sequence
""",
        "last_value is null for a sequence never used, or one the reader may not SELECT from (it is granted "
        "SELECT on the application's sequences, which reads the value and cannot advance it)",
    ),
    "replication": Report(
        "replication lag: on a standby, how far replay is behind in bytes and time; on the primary, each "
        "replication slot's lag in bytes and each WAL sender's lag in time",
        """
SELECT 'standby' AS kind, NULL::name AS name, pg_is_in_recovery() AS active,
       pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()) AS lag_bytes,
       date_trunc('milliseconds', clock_timestamp() - pg_last_xact_replay_timestamp()) AS lag_time,
       NULL::text AS status
 WHERE pg_is_in_recovery()
UNION ALL
SELECT 'slot', r.slot_name, r.active,
       pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()
                            ELSE pg_current_wal_lsn() END,
                       coalesce(r.confirmed_flush_lsn, r.restart_lsn)),
       NULL, r.slot_type || coalesce(', ' || r.wal_status, '')
  FROM pg_replication_slots r
UNION ALL
SELECT 'sender', coalesce(s.application_name, s.pid::text)::name, s.state IS NOT NULL,
       pg_wal_lsn_diff(pg_current_wal_lsn(), s.replay_lsn), s.replay_lag, s.sync_state
  FROM pg_stat_replication s
""",
        "a WAL sender's lag and state need pg_read_all_stats (not granted to the reader): without it they "
        "are null, and the slots' byte lag (readable by every role) stands in; RDS read replicas that use no "
        "slot show their lag on the replica itself (kind 'standby')",
    ),
    "sizes": Report(
        "the application's tables by total size: table, indexes and TOAST, with the planner's row estimate",
        f"""
SELECT t.schema, t.table_name, pg_size_pretty(pg_total_relation_size(t.oid)) AS total,
       pg_size_pretty(pg_relation_size(t.oid)) AS "table", pg_size_pretty(pg_indexes_size(t.oid)) AS indexes,
       pg_size_pretty(pg_total_relation_size(t.oid) - pg_relation_size(t.oid) - pg_indexes_size(t.oid))
         AS toast_and_maps,
       greatest(c.reltuples, 0)::bigint AS estimated_rows, pg_total_relation_size(t.oid) AS total_bytes
  FROM ({_READABLE_TABLES}) t
  JOIN pg_class c ON c.oid = t.oid
 ORDER BY total_bytes DESC, t.schema, t.table_name
""",
    ),
}

NAMES: tuple[str, ...] = tuple(REPORTS)


def report_sql(name: str, schemas: Sequence[str]) -> Report:
    """The report called ``name``, its SQL bound to ``schemas`` (plain names, validated by Settings)."""
    if name not in REPORTS:
        raise InvalidEvent(f"unknown report {name[:60]!r}; the reports are: {', '.join(NAMES)}")
    report = REPORTS[name]
    literal = "'{" + ",".join(schemas) + "}'::name[]"
    return Report(report.description, report.sql.replace("{schemas}", literal), report.note)
