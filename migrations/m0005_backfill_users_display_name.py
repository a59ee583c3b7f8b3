"""Expand: copy full_name (or username) into display_name in batches.

Why batches each committed on their own (``transactional=False``): one UPDATE of a large users table would
hold row locks on every row for its whole duration (blocking the live release's writes) and leave one huge
transaction's worth of dead tuples. Short transactions keep each lock brief. The step is idempotent (it only
fills rows whose display_name is NULL), so a run killed half way is simply run again: it is recorded only
after the last batch. Rows the old release inserts after this step are filled by the contract step 0007.
"""

from migrator import Migration

BATCH_SIZE = 1000


def backfill_display_name(conn) -> int:
    """Fill users.display_name from full_name or username, BATCH_SIZE rows per committed transaction."""
    last_id, changed = 0, 0
    while True:
        with conn.transaction():
            row = conn.execute(
                """
                WITH batch AS (
                    SELECT id FROM users WHERE id > %(last)s ORDER BY id LIMIT %(size)s
                ), filled AS (
                    UPDATE users AS u SET display_name = coalesce(u.full_name, u.username)
                    FROM batch WHERE u.id = batch.id AND u.display_name IS NULL
                    RETURNING 1
                )
                SELECT max(batch.id), (SELECT count(*) FROM filled) FROM batch
                """,
                {"last": last_id, "size": BATCH_SIZE},
            ).fetchone()
        if row[0] is None:
            return changed
        last_id, changed = row[0], changed + row[1]


def nothing_to_undo(conn) -> None:
    """Nothing to undo: reversing 0004 drops display_name and with it every backfilled value."""


MIGRATION = Migration(
    id="0005",
    name="backfill_users_display_name",
    forward=backfill_display_name,
    reverse=nothing_to_undo,
    transactional=False,
)
