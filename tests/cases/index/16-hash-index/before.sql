CREATE TABLE sessions (id integer PRIMARY KEY, token text NOT NULL);
INSERT INTO sessions VALUES (1, 'tok-aaa'), (2, 'tok-bbb');
