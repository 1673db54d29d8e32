-- The simulated payment provider's own ledger (it stands in for an external system, so it lives apart from the orders
-- tables and is written outside the saga's transactions). One row per idempotency key (the order id): a repeated charge
-- of the same order finds its row and answers from it, so nobody is charged twice.
CREATE TABLE simulated_payment_charges (
    idempotency_key VARCHAR(64)   NOT NULL,
    reference       CHAR(32)      NOT NULL,
    amount          DECIMAL(14,2) NOT NULL,
    state           VARCHAR(16)   NOT NULL,
    reason          VARCHAR(200)  NULL,
    created_at      DATETIME(6)   NOT NULL,
    refunded_at     DATETIME(6)   NULL,
    PRIMARY KEY (idempotency_key),
    KEY ix_simulated_payment_charges_state (state)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
