CREATE TABLE users (id int PRIMARY KEY, email varchar(320) NOT NULL);
CREATE VIEW user_emails AS SELECT id, email FROM users;
CREATE VIEW user_domains AS SELECT id, split_part(email, '@', 2) AS domain FROM user_emails;
