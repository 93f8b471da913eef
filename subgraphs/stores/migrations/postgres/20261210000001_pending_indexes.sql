-- The reconciler looks for sales and refunds left pending, oldest first; these indexes
-- hold only the pending rows, so they stay small however many sales are settled.
create index sale_pending_created_at_ms on sale (created_at_ms) where status = 'pending';
create index refund_pending_created_at_ms on refund (created_at_ms) where status = 'pending';
