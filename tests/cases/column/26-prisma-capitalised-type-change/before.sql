CREATE TABLE "Interview" (id text PRIMARY KEY, "userId" text NOT NULL, "resumeData" json);
INSERT INTO "Interview" VALUES ('i1', 'u1', '{"skills": ["sql"]}'), ('i2', 'u2', NULL);
CREATE INDEX "Interview_userId_idx" ON "Interview" ("userId");
