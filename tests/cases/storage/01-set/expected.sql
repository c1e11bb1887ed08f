-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- set-storage public.events.autovacuum_vacuum_scale_factor: (default) -> 0.05
ALTER TABLE "public"."events" SET ("autovacuum_vacuum_scale_factor" = '0.05');
-- set-storage public.events.fillfactor: 100 -> 90
ALTER TABLE "public"."events" SET ("fillfactor" = '90');
-- set-storage public.events.toast.autovacuum_enabled: (default) -> false
ALTER TABLE "public"."events" SET ("toast"."autovacuum_enabled" = 'false');
COMMIT;
