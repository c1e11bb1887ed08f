CREATE SCHEMA billing;
CREATE TABLE billing.invoices (id integer PRIMARY KEY, customer_id integer NOT NULL, issued_at timestamptz NOT NULL);
CREATE TABLE public.invoices (id integer PRIMARY KEY, customer_id integer NOT NULL, issued_at timestamptz NOT NULL);
INSERT INTO billing.invoices VALUES (1, 10, now()), (2, 11, now());
INSERT INTO public.invoices VALUES (1, 10, now());
