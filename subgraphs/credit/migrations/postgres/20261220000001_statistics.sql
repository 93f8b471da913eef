-- Administrators' statistics count today's transfers across every account.
create index transfer_created_at_ms on transfer (created_at_ms);
