CREATE TABLE orders (id integer PRIMARY KEY, customer_id integer NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
INSERT INTO orders (id, customer_id) VALUES (1, 10), (2, 11), (3, 10);
CREATE INDEX orders_customer_idx ON orders (customer_id);
