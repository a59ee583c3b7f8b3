from migrator import Migration

# Contract: only once no running release reads or writes users.full_name (after the switch, when the old
# colour is retired). It fills the rows the old release inserted after the backfill, makes display_name
# required and drops the legacy column. Refused unless the run says allow_contract: true.
MIGRATION = Migration(
    id="0007",
    name="contract_users_display_name",
    forward="""
UPDATE users SET display_name = coalesce(full_name, username) WHERE display_name IS NULL;
ALTER TABLE users ALTER COLUMN display_name SET NOT NULL;
ALTER TABLE users DROP COLUMN full_name;
""",
    reverse="""
ALTER TABLE users ADD COLUMN full_name text;
UPDATE users SET full_name = display_name;
ALTER TABLE users ALTER COLUMN display_name DROP NOT NULL;
""",
    contract=True,
)
