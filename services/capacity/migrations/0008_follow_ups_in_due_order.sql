-- The follow-up list is ordered soonest due first, those without a due
-- date last, then by id. That order was an expression (a CASE on the due
-- date, joined to the id), which no index serves: every page sorted all
-- the tenant's open actions. It is now a column written with the action,
-- `due_key` (the due date, or '9999-12-31' for none), and an index in the
-- list's order, so a page reads its rows in order and stops at its size.
ALTER TABLE follow_up_actions ADD COLUMN due_key TEXT NOT NULL DEFAULT '9999-12-31';
UPDATE follow_up_actions SET due_key = due_date WHERE due_date <> '';
-- The open ones (the list's default), and all of them.
CREATE INDEX follow_up_actions_in_due_order ON follow_up_actions (tenant_id, done_on, due_key, id);
CREATE INDEX follow_up_actions_by_due ON follow_up_actions (tenant_id, due_key, id);
