-- migrator: no-transaction
-- CREATE INDEX CONCURRENTLY cannot run in a transaction, hence no-transaction. A run killed during the build
-- leaves an INVALID index behind; dropping it first makes the step safe to run again.

DROP INDEX CONCURRENTLY IF EXISTS posts_author_created_idx;
CREATE INDEX CONCURRENTLY IF NOT EXISTS posts_author_created_idx ON posts (author_id, created_at DESC);
