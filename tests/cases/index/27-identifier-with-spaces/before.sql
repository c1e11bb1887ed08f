CREATE TABLE "order items" (id integer PRIMARY KEY, "order id" integer NOT NULL, "unit price" numeric(10,2));
INSERT INTO "order items" VALUES (1, 100, 2.50), (2, 100, 3.00), (3, 101, 1.00);
