from migrator import Seed

# Writes only columns that exist both before and after the contract step 0007, so seeding works while
# that step is still pending.
SEED = Seed(
    id="s001",
    name="demo_users",
    apply="""
INSERT INTO users (username, display_name) VALUES
    ('alice', 'Alice Liddell'),
    ('bob', 'Bob Marley'),
    ('carol', 'Carol Danvers')
ON CONFLICT (username) DO NOTHING;
""",
)
