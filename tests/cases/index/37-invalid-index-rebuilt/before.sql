CREATE TABLE payments (id integer PRIMARY KEY, reference text NOT NULL);
INSERT INTO payments VALUES (1, 'ref-1'), (2, 'ref-2');
CREATE INDEX payments_reference_idx ON payments (reference);
UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'payments_reference_idx'::regclass;
