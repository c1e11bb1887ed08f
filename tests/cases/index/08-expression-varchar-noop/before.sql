CREATE TABLE users (id integer PRIMARY KEY, email varchar(320) NOT NULL);
INSERT INTO users VALUES (1, 'Ann@Example.com'), (2, 'bob@example.com');
CREATE INDEX users_email_lower_idx ON users (lower(email));
