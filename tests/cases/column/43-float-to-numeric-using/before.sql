CREATE TABLE scores (id integer PRIMARY KEY, score double precision NOT NULL);
INSERT INTO scores VALUES (1, 12.3456), (2, 99.999), (3, 0.5);
