CREATE TABLE documents (id integer PRIMARY KEY, body jsonb NOT NULL);
INSERT INTO documents VALUES (1, '{"kind": "memo", "tags": ["a"]}'), (2, '{"kind": "letter"}');
