-- What retention prunes, each in the order it goes: finished deliveries by
-- when they finished, notices by their deadline. Pending deliveries are
-- not in the first index; the dispatcher's own index covers them.
CREATE INDEX webhook_deliveries_finished ON webhook_deliveries (updated_at)
	WHERE state != 'PENDING';
CREATE INDEX notices_deadline ON notices (deadline);
