-- The relay claims fresh rows (next_attempt_at IS NULL) and due postponed rows separately. With (sent_at, seq) alone,
-- every claim walked past all postponed rows of types nobody subscribes to: thousands of rows per claim under load.
ALTER TABLE outbox ADD KEY ix_outbox_due (sent_at, next_attempt_at, seq);
ALTER TABLE outbox DROP KEY ix_outbox_pending;
