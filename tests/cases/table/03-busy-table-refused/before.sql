CREATE TABLE interviews (id int PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now());
INSERT INTO interviews (id) VALUES (1);
