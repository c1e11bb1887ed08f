CREATE TABLE interviews (id int PRIMARY KEY, created_at timestamptz NOT NULL, notes text);
INSERT INTO interviews VALUES (1, now() - interval '30 days', 'old'), (2, now() - interval '20 days', 'older');
CREATE INDEX interviews_created_at_idx ON interviews (created_at);
