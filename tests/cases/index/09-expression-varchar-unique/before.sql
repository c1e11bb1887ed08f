CREATE TABLE members (id integer PRIMARY KEY, email varchar(320) NOT NULL);
INSERT INTO members VALUES (1, 'Ann@Example.com'), (2, 'bob@example.com'), (3, 'carol@example.com');
