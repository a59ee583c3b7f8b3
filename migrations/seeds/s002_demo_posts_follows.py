from migrator import Seed

# posts have no natural key, so each demo post is inserted only if that author has no post with that body.
SEED = Seed(
    id="s002",
    name="demo_posts_follows",
    apply="""
INSERT INTO follows (follower_id, followee_id)
SELECT a.id, b.id FROM users a JOIN users b ON (a.username, b.username) IN
    (('alice', 'bob'), ('bob', 'alice'), ('carol', 'alice'))
ON CONFLICT DO NOTHING;
INSERT INTO posts (author_id, body)
SELECT u.id, p.body
FROM (VALUES ('alice', 'Hello from Alice'), ('bob', 'First post'), ('carol', 'Up, up and away'))
    AS p (username, body)
JOIN users u USING (username)
WHERE NOT EXISTS (SELECT 1 FROM posts x WHERE x.author_id = u.id AND x.body = p.body);
""",
)
