CREATE TABLE "we""ird" (id integer PRIMARY KEY, "col""umn" text);
INSERT INTO "we""ird" VALUES (1, 'x'), (2, 'y');
