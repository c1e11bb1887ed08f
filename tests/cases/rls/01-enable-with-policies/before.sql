CREATE TABLE notes (id int PRIMARY KEY, owner uuid NOT NULL, body text);
