-- Orders. Valid on MariaDB 10.11 and MySQL 8. order-api and the worker share this database (the worker runs the saga).

-- One row per order. (user_id, idempotency_key) is unique: a repeated or racing POST with the same key cannot create a
-- second order; it hits the key and answers from the first row (request_hash tells a repeat from a different body).
CREATE TABLE orders (
    id                CHAR(32)      NOT NULL,
    user_id           VARCHAR(100)  NOT NULL,
    idempotency_key   VARCHAR(100)  NOT NULL,
    request_hash      CHAR(64)      NOT NULL,
    status            VARCHAR(20)   NOT NULL,
    status_reason     VARCHAR(500)  NULL,
    seq               INT           NOT NULL,
    total             DECIMAL(14,2) NOT NULL,
    shipping_address  VARCHAR(2000) NOT NULL,
    payment_method    VARCHAR(50)   NOT NULL,
    callback_url      VARCHAR(2000) NULL,
    created_at        DATETIME(6)   NOT NULL,
    status_changed_at DATETIME(6)   NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY ux_orders_idempotency (user_id, idempotency_key),
    KEY ix_orders_user_created (user_id, created_at),
    KEY ix_orders_status_changed (status, status_changed_at),
    KEY ix_orders_created (created_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

-- Prices are copied from the catalog at placement, so the order keeps what the buyer was charged.
CREATE TABLE order_items (
    order_id     CHAR(32)      NOT NULL,
    product_id   INT           NOT NULL,
    product_name VARCHAR(200)  NOT NULL,
    unit_price   DECIMAL(12,2) NOT NULL,
    quantity     INT           NOT NULL,
    PRIMARY KEY (order_id, product_id),
    CONSTRAINT fk_order_items_order FOREIGN KEY (order_id) REFERENCES orders (id),
    CONSTRAINT ck_order_items_quantity CHECK (quantity > 0)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

-- Every transition with its time and reason; seq numbers the SSE events of the order (1 = Submitted).
CREATE TABLE order_history (
    order_id    CHAR(32)     NOT NULL,
    seq         INT          NOT NULL,
    status      VARCHAR(20)  NOT NULL,
    reason      VARCHAR(500) NULL,
    occurred_at DATETIME(6)  NOT NULL,
    PRIMARY KEY (order_id, seq),
    CONSTRAINT fk_order_history_order FOREIGN KEY (order_id) REFERENCES orders (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

-- A callback owed to the buyer's callbackUrl, written in the transaction that reached the final state.
CREATE TABLE order_callbacks (
    id              BIGINT        NOT NULL AUTO_INCREMENT,
    order_id        CHAR(32)      NOT NULL,
    seq             INT           NOT NULL,
    url             VARCHAR(2000) NOT NULL,
    body            TEXT          NOT NULL,
    state           VARCHAR(16)   NOT NULL,
    attempts        INT           NOT NULL DEFAULT 0,
    next_attempt_at DATETIME(6)   NOT NULL,
    created_at      DATETIME(6)   NOT NULL,
    completed_at    DATETIME(6)   NULL,
    PRIMARY KEY (id),
    UNIQUE KEY ux_order_callbacks_order_seq (order_id, seq),
    KEY ix_order_callbacks_due (state, next_attempt_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE order_callback_attempts (
    id           BIGINT       NOT NULL AUTO_INCREMENT,
    callback_id  BIGINT       NOT NULL,
    attempt      INT          NOT NULL,
    attempted_at DATETIME(6)  NOT NULL,
    status_code  INT          NULL,
    error        VARCHAR(500) NULL,
    duration_ms  INT          NOT NULL,
    PRIMARY KEY (id),
    KEY ix_order_callback_attempts_callback (callback_id),
    CONSTRAINT fk_callback_attempts_callback FOREIGN KEY (callback_id) REFERENCES order_callbacks (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
