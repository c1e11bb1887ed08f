-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- replace-view public.open_orders: columns: id, status
CREATE OR REPLACE VIEW "public"."open_orders" WITH ("check_option" = 'local') AS SELECT id, status FROM orders WHERE status = 'open';
COMMIT;
