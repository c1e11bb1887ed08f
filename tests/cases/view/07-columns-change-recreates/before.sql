CREATE TABLE orders (id int PRIMARY KEY, status text);
CREATE VIEW v AS SELECT id, status FROM orders;
