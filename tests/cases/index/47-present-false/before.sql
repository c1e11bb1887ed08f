CREATE TABLE users (id int PRIMARY KEY, email text, name text);
CREATE INDEX users_email_idx ON users (email);
CREATE INDEX users_name_idx ON users (name);
