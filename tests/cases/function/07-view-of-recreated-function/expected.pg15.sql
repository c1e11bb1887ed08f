-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- drop-view public.scored: out of the way of a change: dropped and created
DROP VIEW "public"."scored";
-- drop-function public.score(integer): its result or arguments change: public.score(n integer) RETURNS integer
DROP FUNCTION "public"."score"(n integer);
-- create-function public.score(integer): public.score(n integer) RETURNS bigint
CREATE FUNCTION "public"."score"(n integer) RETURNS bigint LANGUAGE "sql" IMMUTABLE CALLED ON NULL INPUT SECURITY INVOKER NOT LEAKPROOF PARALLEL UNSAFE COST 100.0 AS 'SELECT n::bigint * 10';
-- create-view public.scored: created again; columns: id, score
CREATE VIEW "public"."scored" AS SELECT results.id,
    score(results.points) AS score
   FROM results;
COMMIT;
