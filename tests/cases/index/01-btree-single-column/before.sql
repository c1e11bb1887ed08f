CREATE TABLE orders (id integer PRIMARY KEY, customer_id integer NOT NULL, total numeric(10,2));
INSERT INTO orders VALUES (1, 10, 9.99), (2, 11, 5.00), (3, 10, 12.50);
