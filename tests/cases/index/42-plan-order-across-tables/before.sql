CREATE TABLE accounts (id integer PRIMARY KEY, status text NOT NULL, legacy_code text);
INSERT INTO accounts VALUES (1, 'active', 'A'), (2, 'closed', NULL);
CREATE INDEX accounts_status_idx ON accounts (status);
UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'accounts_status_idx'::regclass;
CREATE INDEX accounts_legacy_idx ON accounts (legacy_code);

CREATE TABLE events (id bigint PRIMARY KEY, payload json NOT NULL);
INSERT INTO events VALUES (1, '{"type": "signup"}');

CREATE TABLE users (id integer PRIMARY KEY, email text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
INSERT INTO users (id, email) VALUES (1, 'a@example.com'), (2, 'b@example.com');
CREATE INDEX users_email_idx ON users (email);
