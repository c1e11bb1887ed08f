CREATE TABLE customer_subscription_billing_events (id bigint PRIMARY KEY, external_payment_provider_reference text NOT NULL);
INSERT INTO customer_subscription_billing_events VALUES (1, 'pi_123'), (2, 'pi_456');
