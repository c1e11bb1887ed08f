CREATE TABLE accounts (
    id integer PRIMARY KEY,
    external_id bigint,
    email character varying(320) NOT NULL,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    active boolean NOT NULL DEFAULT true,
    balance numeric(12,2) NOT NULL DEFAULT 0
);
INSERT INTO accounts (id, external_id, email) VALUES (1, 100, 'a@example.com'), (2, NULL, 'b@example.com');
