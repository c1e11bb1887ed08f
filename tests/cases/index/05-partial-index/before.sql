CREATE TABLE users (id integer PRIMARY KEY, email text NOT NULL, deleted_at timestamptz);
INSERT INTO users VALUES (1, 'a@example.com', NULL), (2, 'b@example.com', now()), (3, 'c@example.com', NULL);
