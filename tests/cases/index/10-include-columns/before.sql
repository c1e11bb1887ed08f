CREATE TABLE orders (id integer PRIMARY KEY, customer_id integer NOT NULL, status text NOT NULL, total numeric(10,2) NOT NULL);
INSERT INTO orders VALUES (1, 10, 'open', 9.99), (2, 11, 'paid', 5.00);
