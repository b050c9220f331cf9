-- Classification outcomes in depth.
-- * One row per (tenant, message id): the publisher's message id is the ticket id, which is
--   unique within a tenant, not across tenants.
-- * A `failed` outcome: the model could not produce a valid analysis (schema violation after
--   the repair round, output cut at the token limit, request rejected) - recorded, not retried.
-- * Only a classified row carries an analysis, so an invalid analysis can never be stored
--   under another outcome; category and priority are columns for reporting.

ALTER TABLE ticket_outcomes DROP CONSTRAINT ticket_outcomes_outcome_check;
ALTER TABLE ticket_outcomes ADD CONSTRAINT ticket_outcomes_outcome_check
    CHECK (outcome IN ('classified', 'rejected', 'filtered', 'refused', 'failed'));

ALTER TABLE ticket_outcomes DROP CONSTRAINT ticket_outcomes_pkey;
ALTER TABLE ticket_outcomes ADD CONSTRAINT ticket_outcomes_pkey PRIMARY KEY (tenant_id, message_id);

ALTER TABLE ticket_outcomes
    ADD COLUMN reason_code   text,
    ADD COLUMN repaired      boolean NOT NULL DEFAULT false,
    ADD COLUMN prompt_sha256 text,
    ADD COLUMN category      text GENERATED ALWAYS AS (analysis ->> 'category') STORED,
    ADD COLUMN priority      text GENERATED ALWAYS AS (analysis ->> 'priority') STORED;

ALTER TABLE ticket_outcomes ADD CONSTRAINT ticket_outcomes_analysis_check
    CHECK ((outcome = 'classified') = (analysis IS NOT NULL));

DROP INDEX ticket_outcomes_ticket_idx;
CREATE INDEX ticket_outcomes_ticket_idx ON ticket_outcomes (tenant_id, ticket_id, created_at DESC);
