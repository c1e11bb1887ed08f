-- The interview app as its Prisma ORM left it: the "before" state that pgstate's demo and tests start from.
--
-- Plain SQL, no psql meta-commands: run it with `psql -v ON_ERROR_STOP=1 -f seed/app.sql` or hand the whole file
-- to psycopg in one execute() (no parameters). Expects a fresh database on PostgreSQL 14+ with the Supabase
-- emulation in place (schema auth, auth.uid(), roles anon/authenticated/service_role); the tables below use only
-- the roles (for the grants Supabase gives every table in public).
--
-- Deterministic: every value derives from the generate_series number (md5 for ids and text, modulo arithmetic for
-- the rest). Timestamps are relative to now() so that "recent" means recent whenever the fixture is loaded; every
-- row of the legacy table `interviews` is more than 30 days old.
--
-- What the ORM left behind (and desired/ fixes): single-column indexes only, `json` instead of `jsonb`, large text
-- in `varchar(10000)`, and a legacy table with the slow RLS policy shape from the performance guide.

SET client_min_messages = warning;

-- ---------------------------------------------------------------------------------------------------------------
-- Tables, as `prisma migrate` writes them (quoted PascalCase names, TIMESTAMP(3), <Table>_pkey, <Table>_<col>_key,
-- <Table>_<col>_idx, <Table>_<col>_fkey ON DELETE RESTRICT ON UPDATE CASCADE).
-- ---------------------------------------------------------------------------------------------------------------

CREATE TABLE "User" (
    "id"          UUID NOT NULL DEFAULT gen_random_uuid(),
    "email"       VARCHAR(320) NOT NULL,
    "name"        VARCHAR(191),
    "isPremium"   BOOLEAN NOT NULL DEFAULT false,
    "credits"     INTEGER NOT NULL DEFAULT 3,
    "role"        TEXT NOT NULL DEFAULT 'USER',
    "resumeText"  VARCHAR(10000),
    "resumeData"  JSON,
    "createdAt"   TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt"   TIMESTAMP(3) NOT NULL,
    CONSTRAINT "User_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "User_email_key" UNIQUE ("email")
);

CREATE TABLE "InterviewSession" (
    "id"         UUID NOT NULL DEFAULT gen_random_uuid(),
    "userId"     UUID NOT NULL,
    "status"     TEXT NOT NULL DEFAULT 'active',
    "role"       TEXT,
    "startedAt"  TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "endedAt"    TIMESTAMP(3),
    "questions"  JSON,
    "createdAt"  TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "InterviewSession_pkey" PRIMARY KEY ("id")
);

CREATE TABLE "Transcript" (
    "id"         UUID NOT NULL DEFAULT gen_random_uuid(),
    "sessionId"  UUID NOT NULL,
    "speaker"    TEXT NOT NULL,
    "content"    VARCHAR(10000) NOT NULL,
    "createdAt"  TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "Transcript_pkey" PRIMARY KEY ("id")
);

CREATE TABLE "Feedback" (
    "id"         UUID NOT NULL DEFAULT gen_random_uuid(),
    "sessionId"  UUID NOT NULL,
    "userId"     UUID NOT NULL,
    "score"      INTEGER NOT NULL,
    "summary"    VARCHAR(10000),
    "details"    JSON,
    "createdAt"  TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "Feedback_pkey" PRIMARY KEY ("id")
);

CREATE TABLE "UsageEvent" (
    "id"         UUID NOT NULL DEFAULT gen_random_uuid(),
    "userId"     UUID NOT NULL,
    "eventType"  TEXT NOT NULL,
    "metadata"   JSON,
    "createdAt"  TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "UsageEvent_pkey" PRIMARY KEY ("id")
);

-- The legacy table from before Prisma (Supabase-style snake_case), still carrying its RLS policy.
CREATE TABLE interviews (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     UUID NOT NULL,
    title       TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'draft',
    notes       TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- ---------------------------------------------------------------------------------------------------------------
-- Data. Users i = 1..20000 have id md5('user:' || i)::uuid; sessions s = 1..60000 belong to user
-- (s * 7919) % 20000 + 1 and have id md5('session:' || s)::uuid, so child rows derive their parents' ids and
-- timestamps without joins.
-- ---------------------------------------------------------------------------------------------------------------

INSERT INTO "User" ("id", "email", "name", "isPremium", "credits", "role", "resumeText", "resumeData",
                    "createdAt", "updatedAt")
SELECT md5('user:' || i)::uuid,
       'user' || i || '@example.com',
       'User ' || i,
       i % 5 = 0,
       (i * 37) % 100,
       CASE WHEN i % 500 = 0 THEN 'ADMIN' ELSE 'USER' END,
       CASE WHEN i % 4 <> 0 THEN
            'Experienced engineer #' || i || '. ' || repeat(md5('resume:' || i) || ' ', 4 + i % 12) END,
       CASE WHEN i % 4 <> 0 THEN json_build_object(
            'skills', json_build_array('sql', CASE i % 3 WHEN 0 THEN 'go' WHEN 1 THEN 'python' ELSE 'rust' END),
            'years', i % 25,
            'headline', 'Engineer ' || i) END,
       date_trunc('milliseconds', now() - make_interval(days => 400 + i % 400, mins => i % 1440))::timestamp,
       date_trunc('milliseconds', now() - make_interval(days => i % 400, mins => i % 1440))::timestamp
FROM generate_series(1, 20000) AS i;

INSERT INTO "InterviewSession" ("id", "userId", "status", "role", "startedAt", "endedAt", "questions", "createdAt")
SELECT md5('session:' || s)::uuid,
       md5('user:' || ((s * 7919) % 20000 + 1))::uuid,
       CASE WHEN s % 20 = 0 THEN 'active' WHEN s % 7 = 0 THEN 'abandoned' ELSE 'completed' END,
       CASE s % 4 WHEN 0 THEN 'backend' WHEN 1 THEN 'frontend' WHEN 2 THEN 'data' ELSE 'devops' END,
       started,
       CASE WHEN s % 20 = 0 THEN NULL ELSE started + make_interval(mins => 15 + s % 45) END,
       json_build_array(
            json_build_object('id', 1, 'text', 'Tell me about yourself.'),
            json_build_object('id', 2, 'text', 'Question ' || md5('q:' || s))),
       started
FROM generate_series(1, 60000) AS s,
     LATERAL (SELECT date_trunc('milliseconds',
                     now() - make_interval(days => (s * 13) % 365, mins => s % 1440))::timestamp AS started) AS t;

INSERT INTO "Transcript" ("id", "sessionId", "speaker", "content", "createdAt")
SELECT md5('transcript:' || n)::uuid,
       md5('session:' || s)::uuid,
       CASE WHEN n % 2 = 0 THEN 'candidate' ELSE 'interviewer' END,
       'Turn ' || n || ': ' || repeat(md5('content:' || n) || ' ', 2 + n % 20),
       date_trunc('milliseconds',
                  now() - make_interval(days => (s * 13) % 365, mins => s % 1440) + make_interval(mins => n % 30))
FROM generate_series(1, 100000) AS n,
     LATERAL (SELECT (n - 1) % 60000 + 1 AS s) AS p;

INSERT INTO "Feedback" ("id", "sessionId", "userId", "score", "summary", "details", "createdAt")
SELECT md5('feedback:' || s)::uuid,
       md5('session:' || s)::uuid,
       md5('user:' || ((s * 7919) % 20000 + 1))::uuid,
       (s * 31) % 101,
       'Feedback for session ' || s || ': ' || repeat(md5('summary:' || s) || ' ', 1 + s % 6),
       json_build_object('communication', (s * 17) % 11, 'technical', (s * 23) % 11,
                         'strengths', json_build_array('clarity', 'structure')),
       date_trunc('milliseconds',
                  now() - make_interval(days => (s * 13) % 365, mins => s % 1440) + interval '1 hour')
FROM generate_series(1, 60000) AS s;

INSERT INTO "UsageEvent" ("id", "userId", "eventType", "metadata", "createdAt")
SELECT md5('event:' || e)::uuid,
       md5('user:' || ((e * 9973) % 20000 + 1))::uuid,
       CASE e % 5 WHEN 0 THEN 'interview_start' WHEN 1 THEN 'interview_end' WHEN 2 THEN 'feedback_view'
                  WHEN 3 THEN 'credit_purchase' ELSE 'resume_upload' END,
       json_build_object('source', CASE WHEN e % 3 = 0 THEN 'web' ELSE 'mobile' END, 'seq', e),
       date_trunc('milliseconds', now() - make_interval(days => e % 365, secs => e % 86400))::timestamp
FROM generate_series(1, 200000) AS e;

INSERT INTO interviews (id, user_id, title, status, notes, created_at, updated_at)
SELECT md5('interview:' || k)::uuid,
       md5('user:' || ((k * 3) % 20000 + 1))::uuid,
       'Legacy interview ' || k,
       CASE WHEN k % 3 = 0 THEN 'done' ELSE 'draft' END,
       CASE WHEN k % 2 = 0 THEN 'notes ' || md5('notes:' || k) END,
       now() - interval '31 days' - make_interval(hours => k),
       now() - interval '31 days' - make_interval(hours => k) + interval '10 minutes'
FROM generate_series(1, 5000) AS k;

-- ---------------------------------------------------------------------------------------------------------------
-- Indexes and foreign keys after the data (faster load, same result as the migration order).
-- Single-column only, exactly as @@index([...]) left them.
-- ---------------------------------------------------------------------------------------------------------------

CREATE INDEX "User_isPremium_idx" ON "User"("isPremium");
CREATE INDEX "User_credits_idx" ON "User"("credits");
CREATE INDEX "InterviewSession_userId_idx" ON "InterviewSession"("userId");
CREATE INDEX "InterviewSession_status_idx" ON "InterviewSession"("status");
CREATE INDEX "Transcript_sessionId_idx" ON "Transcript"("sessionId");
CREATE INDEX "Transcript_createdAt_idx" ON "Transcript"("createdAt");
CREATE INDEX "Feedback_sessionId_idx" ON "Feedback"("sessionId");
CREATE INDEX "Feedback_userId_idx" ON "Feedback"("userId");
CREATE INDEX "UsageEvent_userId_idx" ON "UsageEvent"("userId");
CREATE INDEX "UsageEvent_createdAt_idx" ON "UsageEvent"("createdAt");
CREATE INDEX interviews_user_id_idx ON interviews (user_id);

ALTER TABLE "InterviewSession" ADD CONSTRAINT "InterviewSession_userId_fkey"
    FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "Transcript" ADD CONSTRAINT "Transcript_sessionId_fkey"
    FOREIGN KEY ("sessionId") REFERENCES "InterviewSession"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "Feedback" ADD CONSTRAINT "Feedback_sessionId_fkey"
    FOREIGN KEY ("sessionId") REFERENCES "InterviewSession"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "Feedback" ADD CONSTRAINT "Feedback_userId_fkey"
    FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "UsageEvent" ADD CONSTRAINT "UsageEvent_userId_fkey"
    FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- ---------------------------------------------------------------------------------------------------------------
-- The legacy RLS: the guide's "BAD" policy, spelled so that it actually compiles (the guide's `users` and bare
-- isPremium would not resolve against Prisma's quoted "User"/"isPremium"). It runs a subquery on "User" and a
-- function call for every row checked.
-- ---------------------------------------------------------------------------------------------------------------

CREATE FUNCTION public.current_user_email() RETURNS text
    LANGUAGE sql STABLE
    AS $$ SELECT nullif(current_setting('request.jwt.claim.email', true), '') $$;

ALTER TABLE interviews ENABLE ROW LEVEL SECURITY;

CREATE POLICY "Users can view own interviews" ON interviews
    FOR SELECT
    USING (
        user_id IN (
            SELECT "id" FROM "User"
            WHERE "email" = current_user_email()
              AND "role" = 'USER'
              AND "isPremium" = true
        )
    );

-- What Supabase grants on every table in public.
GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;
GRANT ALL ON ALL TABLES IN SCHEMA public TO anon, authenticated, service_role;

ANALYZE "User", "InterviewSession", "Transcript", "Feedback", "UsageEvent", interviews;
