CREATE TABLE notes (id integer PRIMARY KEY, body varchar(2000) NOT NULL, author_id integer NOT NULL);
INSERT INTO notes VALUES (1, 'first', 1), (2, 'second', 2);
CREATE INDEX notes_author_id_idx ON notes (author_id);
CREATE INDEX notes_body_idx ON notes (body);
