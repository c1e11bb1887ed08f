CREATE TABLE metrics (id int PRIMARY KEY, value float8);
INSERT INTO metrics SELECT g, g FROM generate_series(1, 100) g;
