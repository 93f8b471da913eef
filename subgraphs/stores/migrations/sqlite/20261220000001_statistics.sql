-- Administrators' statistics count today's sales across every store.
create index sale_created_at_ms on sale (created_at_ms);
