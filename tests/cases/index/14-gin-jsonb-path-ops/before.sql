CREATE TABLE documents (id integer PRIMARY KEY, attrs jsonb NOT NULL DEFAULT '{}');
INSERT INTO documents VALUES (1, '{"color": "red"}'), (2, '{"color": "blue", "size": 3}');
