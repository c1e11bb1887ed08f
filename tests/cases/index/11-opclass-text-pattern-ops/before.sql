CREATE TABLE products (id integer PRIMARY KEY, sku text NOT NULL);
INSERT INTO products VALUES (1, 'AB-001'), (2, 'AB-002'), (3, 'CD-100');
