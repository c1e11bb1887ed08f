CREATE TABLE accounts (id int NOT NULL, code text NOT NULL);
CREATE UNIQUE INDEX accounts_code_key ON accounts (code);
CREATE TABLE payments (id int PRIMARY KEY, account_code text REFERENCES accounts (code));
