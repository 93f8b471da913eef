-- Sales and refunds. A sale is recorded as pending before credit is asked for the money,
-- and then moves once to paid or failed; the (store, idempotency key) pair is unique so
-- a retried request finds its sale instead of charging again.

create table sale (
    id text primary key check (id like 'sal\_%'),
    store_id text not null references store (id),
    -- Who rang it up: the store's owner ('user') or one of its kiosks ('kiosk').
    seller_kind text not null check (seller_kind in ('user', 'kiosk')),
    seller_id text not null check (length(seller_id) between 1 and 64),
    idempotency_key text not null check (length(idempotency_key) between 1 and 64),
    -- SHA-256 (hex) of the request as sent: a retry must match it exactly.
    request_hash text not null check (length(request_hash) = 64),
    status text not null check (status in ('pending', 'paid', 'failed')),
    total bigint not null check (total > 0 and total <= 1000000000000),
    payer_user_id text check (payer_user_id like 'usr\_%'),
    hold_id text check (length(hold_id) between 1 and 64),
    transfer_id text check (length(transfer_id) between 1 and 64),
    failure_code text check (length(failure_code) between 1 and 64),
    refunded bigint not null default 0 check (refunded >= 0 and refunded <= total),
    created_at_ms bigint not null,
    updated_at_ms bigint not null,
    unique (store_id, idempotency_key),
    -- A paid sale names its payer and transfer; only a failed one has a failure code;
    -- only a paid one can have refunds.
    check (status <> 'paid' or (payer_user_id is not null and transfer_id is not null)),
    check ((status = 'failed') = (failure_code is not null)),
    check (status = 'paid' or refunded = 0)
);

create index sale_store_created_at_ms on sale (store_id, created_at_ms);

create table sale_line (
    sale_id text not null references sale (id),
    line_number bigint not null check (line_number between 1 and 50),
    product_id text not null references product (id),
    -- The product's name and price when it was sold.
    name text not null check (length(name) between 1 and 64),
    unit_price bigint not null check (unit_price > 0 and unit_price <= 1000000000000),
    quantity bigint not null check (quantity between 1 and 99),
    line_total bigint not null check (line_total = unit_price * quantity),
    primary key (sale_id, line_number)
);

create table refund (
    id text primary key check (id like 'ref\_%'),
    sale_id text not null references sale (id),
    amount bigint not null check (amount > 0 and amount <= 1000000000000),
    reason text not null check (length(reason) between 1 and 200),
    idempotency_key text not null check (length(idempotency_key) between 1 and 64),
    request_hash text not null check (length(request_hash) = 64),
    -- pending: reserved against the sale, the ledger not yet confirmed; failed: the
    -- ledger refused and the reservation was released.
    status text not null check (status in ('pending', 'completed', 'failed')),
    transfer_id text check (length(transfer_id) between 1 and 64),
    failure_code text check (length(failure_code) between 1 and 64),
    created_at_ms bigint not null,
    updated_at_ms bigint not null,
    unique (sale_id, idempotency_key),
    check ((status = 'completed') = (transfer_id is not null)),
    check ((status = 'failed') = (failure_code is not null))
);
