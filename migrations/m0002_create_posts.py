from migrator import Migration

MIGRATION = Migration(
    id="0002",
    name="create_posts",
    forward="""
CREATE TABLE posts (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    author_id  bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    body       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
""",
    reverse="DROP TABLE posts;",
)
