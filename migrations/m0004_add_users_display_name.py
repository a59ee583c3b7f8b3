from migrator import Migration

# Expand: a nullable column without a default is a catalogue-only change; the release still running keeps
# writing full_name and never sees display_name.
MIGRATION = Migration(
    id="0004",
    name="add_users_display_name",
    forward="ALTER TABLE users ADD COLUMN display_name text;",
    reverse="ALTER TABLE users DROP COLUMN display_name;",
)
