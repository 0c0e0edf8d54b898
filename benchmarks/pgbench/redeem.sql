-- The naive redemption transaction of issue 9, for pgbench (-M prepared):
-- 8 statements in one transaction, in the service's lock order (campaign, code,
-- customer). The bare app (benchmarks/bare_app.py) runs the same statements.
--
--   1. claim the Idempotency-Key     5. count the customer's use (per-customer limit 1)
--   2. look the code up (+ campaign)  6. insert the redemption
--   3. campaign update with budget    7. ledger entry of the redemption
--   4. conditional code update        8. a second ledger entry
--
-- Variables (-D): lo, span = the pool of codes M<lo> .. M<lo+span-1> (span 1: one
-- hot code); nclients = -c; n = 0 (a per-client counter that survives between
-- transactions); run = a tag that keeps keys and order ids unique across runs.
-- Each client takes codes lo + client_id, lo + client_id + nclients, ...: no two
-- transactions take the same single-use code. pgbench substitutes :name even inside
-- string literals, so no literal here holds a colon before a letter.
\set n :n + 1
\set i :lo + (:client_id + :nclients * (:n - 1)) % :span
BEGIN;
INSERT INTO idempotency_keys (scope, key, request_hash, created_at)
  VALUES ('pgbench redeem', 'k' || :run::text || '-' || :client_id::text || '-' || :n::text,
          'pgbench', now());
SELECT c.id AS code_id, c.campaign_id AS campaign_id, c.active, c.max_redemptions AS code_max,
       c.used AS code_used, c.affiliate_id, a.active AS affiliate_active, k.status, k.currency,
       k.starts_at, k.ends_at, k.percent_off, k.max_discount, k.rules, k.max_redemptions,
       k.redemptions_used, k.max_redemptions_per_customer, k.budget, k.budget_used,
       (SELECT u.used FROM customer_usage u
         WHERE u.campaign_id = k.id
           AND u.customer_ref = 'c' || :run::text || '-' || :client_id::text || '-' || :n::text)
         AS used_on_campaign
  FROM codes c JOIN campaigns k ON k.id = c.campaign_id
       LEFT JOIN affiliates a ON a.id = c.affiliate_id
 WHERE c.canonical = 'M' || lpad(:i::text, 8, '0') AND c.live \gset
UPDATE campaigns SET redemptions_used = redemptions_used + 1, budget_used = budget_used + 500
 WHERE id = :campaign_id AND status = 'active'
   AND (max_redemptions IS NULL OR redemptions_used < max_redemptions)
   AND (budget IS NULL OR budget_used + 500 <= budget)
RETURNING id AS campaign_ok \gset
UPDATE codes SET used = used + 1
 WHERE id = :code_id AND active AND live AND (max_redemptions IS NULL OR used < max_redemptions)
RETURNING id AS code_ok \gset
INSERT INTO customer_usage (campaign_id, customer_ref, used)
  VALUES (:campaign_id, 'c' || :run::text || '-' || :client_id::text || '-' || :n::text, 1)
  ON CONFLICT (campaign_id, customer_ref) DO UPDATE SET used = customer_usage.used + 1
  WHERE customer_usage.used < 1
RETURNING used AS customer_used \gset
INSERT INTO redemptions (code_id, campaign_id, affiliate_id, customer_ref, order_id,
    currency, order_amount, discount_total, discount_shipping, discount_lines, commission,
    commission_fixed, refunded_amount, budget_returned, created_at)
  VALUES (:code_id, :campaign_id, NULL,
          'c' || :run::text || '-' || :client_id::text || '-' || :n::text,
          'o' || :run::text || '-' || :client_id::text || '-' || :n::text,
          'EUR', 4500, 500, 0, '[{"line_id": "0", "sku": "TSHIRT-1", "amount": 500}]',
          0, 0, 0, 0, now())
  ON CONFLICT (order_id) WHERE rolled_back_at IS NULL DO NOTHING
RETURNING id AS redemption_id \gset
INSERT INTO ledger_entries (created_at, kind, redemption_id, order_id, code, campaign_id,
    affiliate_id, currency, order_amount, discount, commission, available_at)
  VALUES (now(), 'redemption', :redemption_id,
          'o' || :run::text || '-' || :client_id::text || '-' || :n::text,
          'M' || lpad(:i::text, 8, '0'), :campaign_id, NULL, 'EUR', 4500, 500, 0, now());
INSERT INTO ledger_entries (created_at, kind, redemption_id, order_id, code, campaign_id,
    affiliate_id, currency, order_amount, discount, commission, available_at)
  VALUES (now(), 'redemption', :redemption_id,
          'o' || :run::text || '-' || :client_id::text || '-' || :n::text,
          'M' || lpad(:i::text, 8, '0'), :campaign_id, NULL, 'EUR', 4500, 0, 0, now());
COMMIT;
