CREATE TABLE users (id int PRIMARY KEY, email varchar(320) NOT NULL);
CREATE VIEW user_emails AS SELECT id, email FROM users;
GRANT SELECT ON user_emails TO authenticated;
