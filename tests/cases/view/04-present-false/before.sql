CREATE TABLE orders (id int PRIMARY KEY);
CREATE VIEW old_report AS SELECT count(*) AS n FROM orders;
