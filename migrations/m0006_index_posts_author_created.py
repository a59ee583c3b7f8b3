from migrator.migration import Migration

# CREATE INDEX CONCURRENTLY cannot run in a transaction, hence transactional=False. A run killed during
# the build leaves an INVALID index behind; dropping it first makes the step safe to run again.
MIGRATION = Migration(
    id="0006",
    name="index_posts_author_created",
    forward="""
DROP INDEX CONCURRENTLY IF EXISTS posts_author_created_idx;
CREATE INDEX CONCURRENTLY IF NOT EXISTS posts_author_created_idx ON posts (author_id, created_at DESC);
""",
    reverse="DROP INDEX CONCURRENTLY IF EXISTS posts_author_created_idx;",
    transactional=False,
)
