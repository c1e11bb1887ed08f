CREATE TABLE measurements (id bigint PRIMARY KEY, recorded_at timestamp NOT NULL, value double precision);
INSERT INTO measurements SELECT g, timestamp '2024-01-01' + g * interval '1 minute', g / 10.0 FROM generate_series(1, 50) g;
