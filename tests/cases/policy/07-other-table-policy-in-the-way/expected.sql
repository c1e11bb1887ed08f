-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- drop-policy public.members.by_team: out of the way of a change: PERMISSIVE FOR ALL TO authenticated USING (EXISTS ( SELECT 1
   FROM teams t
  WHERE ((t.id = members.team_id) AND ((t.slug)::text = 'core'::text))))
DROP POLICY "by_team" ON "public"."members";
-- alter-column-type public.teams.slug: change type character varying(40) -> text (no rewrite)
ALTER TABLE "public"."teams" ALTER COLUMN "slug" TYPE text USING ("slug"::text);
-- create-policy public.members.by_team: created again: PERMISSIVE FOR ALL TO authenticated USING (EXISTS ( SELECT 1
   FROM teams t
  WHERE ((t.id = members.team_id) AND ((t.slug)::text = 'core'::text))))
CREATE POLICY "by_team" ON "public"."members" AS PERMISSIVE FOR ALL TO "authenticated" USING ((EXISTS ( SELECT 1
   FROM teams t
  WHERE ((t.id = members.team_id) AND ((t.slug)::text = 'core'::text)))));
COMMIT;
