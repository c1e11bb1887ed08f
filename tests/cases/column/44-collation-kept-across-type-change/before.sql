CREATE TABLE codes (id int PRIMARY KEY, code varchar(10) COLLATE "C" NOT NULL);
CREATE INDEX codes_code_idx ON codes (code);
INSERT INTO codes VALUES (1, 'b'), (2, 'B');
