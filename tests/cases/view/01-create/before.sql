CREATE TABLE orders (id int PRIMARY KEY, total numeric(10,2), status text);
