CREATE TABLE users (id int PRIMARY KEY, name text);
CREATE INDEX users_name_c ON users (name COLLATE "C");
