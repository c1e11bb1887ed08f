CREATE TABLE users (id integer PRIMARY KEY, display_name varchar(100) NOT NULL);
INSERT INTO users VALUES (1, 'Ann'), (2, 'Bob');
