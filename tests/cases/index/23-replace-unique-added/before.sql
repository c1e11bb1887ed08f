CREATE TABLE users (id integer PRIMARY KEY, username text NOT NULL);
INSERT INTO users VALUES (1, 'ann'), (2, 'bob');
CREATE INDEX users_username_idx ON users (username);
