CREATE TABLE users (id integer PRIMARY KEY, tenant_id integer NOT NULL, email text NOT NULL);
INSERT INTO users VALUES (1, 1, 'Ann@Example.com'), (2, 2, 'ann@example.com'), (3, 1, 'bob@example.com');
