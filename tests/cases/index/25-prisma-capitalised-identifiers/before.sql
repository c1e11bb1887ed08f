CREATE TABLE "User" (id text PRIMARY KEY, "isPremium" boolean NOT NULL DEFAULT false, credits integer NOT NULL DEFAULT 0);
INSERT INTO "User" VALUES ('u1', true, 10), ('u2', false, 0);
