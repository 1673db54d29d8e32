-- The transactional outbox: written in the caller's transaction, published by the relay in seq order.
CREATE TABLE outbox (
    seq BIGINT NOT NULL AUTO_INCREMENT,
    event_id VARCHAR(64) NOT NULL,
    event_type VARCHAR(200) NOT NULL,
    body LONGTEXT NOT NULL,
    trace_parent VARCHAR(64) NULL,
    trace_state VARCHAR(512) NULL,
    created_at DATETIME(6) NOT NULL,
    sent_at DATETIME(6) NULL,
    PRIMARY KEY (seq),
    UNIQUE KEY ux_outbox_event_id (event_id),
    KEY ix_outbox_pending (sent_at, seq)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The inbox: one row per handled event and consumer, committed with the handler's writes; the key makes redelivery a no-op.
CREATE TABLE inbox (
    consumer VARCHAR(190) NOT NULL,
    event_id VARCHAR(64) NOT NULL,
    event_type VARCHAR(200) NOT NULL,
    handled_at DATETIME(6) NOT NULL,
    PRIMARY KEY (consumer, event_id),
    KEY ix_inbox_handled_at (handled_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
