CREATE TABLE subscriptions (id integer PRIMARY KEY, account_id integer NOT NULL, status varchar(20) NOT NULL);
INSERT INTO subscriptions VALUES (1, 1, 'active'), (2, 2, 'cancelled'), (3, 3, 'active');
CREATE INDEX subscriptions_active_idx ON subscriptions (account_id) WHERE status = 'active';
