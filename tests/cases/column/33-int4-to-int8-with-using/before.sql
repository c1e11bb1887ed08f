CREATE TABLE ledger (id integer PRIMARY KEY, amount_cents integer NOT NULL, account_id integer NOT NULL);
INSERT INTO ledger VALUES (1, 1000, 1), (2, -250, 1), (3, 99, 2);
CREATE INDEX ledger_account_id_idx ON ledger (account_id);
