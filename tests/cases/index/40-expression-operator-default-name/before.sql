CREATE TABLE line_items (id integer PRIMARY KEY, quantity integer NOT NULL, unit_price numeric(10,2) NOT NULL);
INSERT INTO line_items VALUES (1, 2, 3.50), (2, 1, 10.00);
