CREATE TABLE customers (
    id integer PRIMARY KEY,
    email text NOT NULL UNIQUE,
    tax_id text CONSTRAINT customers_tax_id_uniq UNIQUE,
    name text NOT NULL,
    contract_period tstzrange,
    EXCLUDE USING gist (contract_period WITH &&)
);
INSERT INTO customers VALUES
    (1, 'a@example.com', 'T1', 'Ann', tstzrange('2024-01-01', '2024-06-01')),
    (2, 'b@example.com', 'T2', 'Bob', tstzrange('2024-06-01', '2024-12-01'));
CREATE INDEX customers_name_idx ON customers (name);
CREATE UNIQUE INDEX customers_lower_email_idx ON customers (lower(email));
