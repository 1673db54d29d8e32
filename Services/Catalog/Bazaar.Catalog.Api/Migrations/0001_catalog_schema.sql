-- Catalog schema. Valid on MariaDB 10.11 and MySQL 8.
CREATE TABLE brands (
    id          INT          NOT NULL AUTO_INCREMENT,
    name        VARCHAR(100) NOT NULL,
    row_version INT          NOT NULL DEFAULT 1,
    created_at  DATETIME(6)  NOT NULL,
    updated_at  DATETIME(6)  NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY ux_brands_name (name)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE categories (
    id          INT          NOT NULL AUTO_INCREMENT,
    name        VARCHAR(100) NOT NULL,
    row_version INT          NOT NULL DEFAULT 1,
    created_at  DATETIME(6)  NOT NULL,
    updated_at  DATETIME(6)  NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY ux_categories_name (name)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

-- Stock is two numbers: units that can still be sold (available) and units held by open reservations (reserved).
-- Every change is one conditional UPDATE; the CHECKs make a bug that would oversell fail instead.
CREATE TABLE products (
    id              INT           NOT NULL AUTO_INCREMENT,
    sku             VARCHAR(64)   NOT NULL,
    name            VARCHAR(200)  NOT NULL,
    description     VARCHAR(2000) NOT NULL,
    price           DECIMAL(12,2) NOT NULL,
    brand_id        INT           NOT NULL,
    category_id     INT           NOT NULL,
    available_stock INT           NOT NULL DEFAULT 0,
    reserved_stock  INT           NOT NULL DEFAULT 0,
    row_version     INT           NOT NULL DEFAULT 1,
    created_at      DATETIME(6)   NOT NULL,
    updated_at      DATETIME(6)   NOT NULL,
    deleted_at      DATETIME(6)   NULL,
    PRIMARY KEY (id),
    UNIQUE KEY ux_products_sku (sku),
    KEY ix_products_brand (brand_id),
    KEY ix_products_category (category_id),
    KEY ix_products_price (price),
    KEY ix_products_name (name),
    KEY ix_products_created (created_at),
    CONSTRAINT fk_products_brand FOREIGN KEY (brand_id) REFERENCES brands (id),
    CONSTRAINT fk_products_category FOREIGN KEY (category_id) REFERENCES categories (id),
    CONSTRAINT ck_products_available CHECK (available_stock >= 0),
    CONSTRAINT ck_products_reserved CHECK (reserved_stock >= 0),
    CONSTRAINT ck_products_price CHECK (price >= 0)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

-- One row per reservation request, rejected ones included, so a repeat of the same reservation id gets the first answer.
CREATE TABLE stock_reservations (
    id          VARCHAR(64)  NOT NULL,
    order_id    VARCHAR(64)  NOT NULL,
    state       VARCHAR(16)  NOT NULL,
    reason      VARCHAR(400) NULL,
    expires_at  DATETIME(6)  NOT NULL,
    created_at  DATETIME(6)  NOT NULL,
    updated_at  DATETIME(6)  NOT NULL,
    PRIMARY KEY (id),
    KEY ix_stock_reservations_order (order_id),
    KEY ix_stock_reservations_expiry (state, expires_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE stock_reservation_items (
    reservation_id VARCHAR(64) NOT NULL,
    product_id     INT         NOT NULL,
    quantity       INT         NOT NULL,
    PRIMARY KEY (reservation_id, product_id),
    KEY ix_stock_reservation_items_product (product_id),
    CONSTRAINT fk_reservation_items_reservation FOREIGN KEY (reservation_id) REFERENCES stock_reservations (id),
    CONSTRAINT ck_reservation_items_quantity CHECK (quantity > 0)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
