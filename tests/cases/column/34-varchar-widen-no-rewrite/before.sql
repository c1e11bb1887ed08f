CREATE TABLE customers (id integer PRIMARY KEY, name varchar(100) NOT NULL);
INSERT INTO customers VALUES (1, 'Ann'), (2, 'Bob');
CREATE INDEX customers_name_idx ON customers (name);
