-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- create-view public.open_orders: columns: id, total
CREATE VIEW "public"."open_orders" AS SELECT id, total FROM orders WHERE status = 'open';
COMMIT;
