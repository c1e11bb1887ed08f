CREATE TABLE orders (id integer PRIMARY KEY, customer_id integer NOT NULL, status text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
INSERT INTO orders (id, customer_id, status) VALUES (1, 10, 'open'), (2, 11, 'paid'), (3, 10, 'paid');
