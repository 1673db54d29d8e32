-- Rows the broker returned as unroutable (no queue bound yet, e.g. the consumer has never started) wait until this time.
ALTER TABLE outbox ADD COLUMN next_attempt_at DATETIME(6) NULL;
