-- authdb: users, rotating refresh tokens, token signing keys.
-- Written for MariaDB 10.11 and MySQL 8 alike.

-- Ids are VARCHAR(36), not CHAR(36): both MySQL drivers read CHAR(36) as a Guid by default.
CREATE TABLE users (
    id                VARCHAR(36)  NOT NULL,
    email             VARCHAR(254) NOT NULL,
    normalized_email  VARCHAR(254) NOT NULL,
    display_name      VARCHAR(100) NOT NULL,
    password_hash     VARCHAR(512) NOT NULL,
    -- A small closed set (admin, customer), comma separated: a join table would buy nothing here.
    roles             VARCHAR(200) NOT NULL,
    security_stamp    CHAR(32)     NOT NULL,
    -- Set by the automatic lockout (counted in Redis) and by an admin's lock; NULL when unlocked.
    lockout_end       DATETIME(6)  NULL,
    created_at        DATETIME(6)  NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY ux_users_normalized_email (normalized_email),
    KEY ix_users_created_at (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Only the SHA-256 of a refresh token is stored: a leaked table cannot be replayed.
CREATE TABLE refresh_tokens (
    token_hash        BINARY(32)   NOT NULL,
    family_id         VARCHAR(36)  NOT NULL,
    user_id           VARCHAR(36)  NOT NULL,
    created_at        DATETIME(6)  NOT NULL,
    expires_at        DATETIME(6)  NOT NULL,
    used_at           DATETIME(6)  NULL,
    revoked_at        DATETIME(6)  NULL,
    replaced_by_hash  BINARY(32)   NULL,
    PRIMARY KEY (token_hash),
    KEY ix_refresh_tokens_family (family_id),
    KEY ix_refresh_tokens_user (user_id),
    CONSTRAINT fk_refresh_tokens_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE signing_keys (
    id                VARCHAR(64)  NOT NULL,
    algorithm         VARCHAR(16)  NOT NULL,
    -- PKCS#8; the database is the key store, so access to authdb is access to the keys.
    private_key       VARBINARY(4096) NOT NULL,
    created_at        DATETIME(6)  NOT NULL,
    retired_at        DATETIME(6)  NULL,
    PRIMARY KEY (id),
    KEY ix_signing_keys_created_at (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
