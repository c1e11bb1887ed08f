CREATE TABLE orders (id int PRIMARY KEY, status text);
CREATE VIEW open_orders AS SELECT id, status FROM orders WHERE status = 'open';
