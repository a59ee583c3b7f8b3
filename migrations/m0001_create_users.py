from migrator import Migration

MIGRATION = Migration(
    id="0001",
    name="create_users",
    forward="""
CREATE TABLE users (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username   text NOT NULL UNIQUE,
    full_name  text,
    created_at timestamptz NOT NULL DEFAULT now()
);
""",
    reverse="DROP TABLE users;",
)
