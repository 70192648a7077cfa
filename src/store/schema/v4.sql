-- darkstab store, schema version 4: limits.groups (issue 8).  Migrates
-- from 3.  The flows of groups that a slot could not create past
-- limits.groups: counted in packets and flows (S stays exact), in no group.
ALTER TABLE slots ADD COLUMN folded_packets INTEGER NOT NULL DEFAULT 0;
ALTER TABLE slots ADD COLUMN folded_flows INTEGER NOT NULL DEFAULT 0;
ALTER TABLE open_slots ADD COLUMN folded_packets INTEGER NOT NULL DEFAULT 0;
ALTER TABLE open_slots ADD COLUMN folded_flows INTEGER NOT NULL DEFAULT 0;
