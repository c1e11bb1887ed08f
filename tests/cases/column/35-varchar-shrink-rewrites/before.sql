CREATE TABLE coupons (id integer PRIMARY KEY, code varchar(100) NOT NULL);
INSERT INTO coupons VALUES (1, 'WELCOME10'), (2, 'SPRING-SALE');
