-- An object's etag is its version, and every write of the API bumps it. The
-- platform's erasure sweep (markaz_kit::erasure) rewrites free text in any
-- table without knowing which column is a version: these triggers bump the
-- version of a topic, course, consultation or suggestion whenever its text
-- (or the text of its trainers or follow-up actions) changes in a statement
-- that left the version as it was. So a client holding the copy from before
-- an erasure gets ABORTED on its next update, instead of writing the name
-- back with an etag still current. A write that bumps the version itself is
-- untouched; the trainers and actions are only ever replaced (deleted and
-- inserted) by the API, so their triggers fire for the sweep alone. A text
-- column added to these tables belongs in its trigger's list.
--! postgres
CREATE FUNCTION capacity_version_follows_text() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.version = OLD.version THEN
        NEW.version := OLD.version + 1;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER topics_version_follows_text
    BEFORE UPDATE OF name_ar, name_en, description_ar, description_en ON topics
    FOR EACH ROW EXECUTE FUNCTION capacity_version_follows_text();
CREATE TRIGGER courses_version_follows_text
    BEFORE UPDATE OF title_ar, title_en, description_ar, description_en, venue, cancel_reason
    ON courses
    FOR EACH ROW EXECUTE FUNCTION capacity_version_follows_text();
CREATE TRIGGER consultations_version_follows_text
    BEFORE UPDATE OF advisor_name, notes, recorded_by ON consultations
    FOR EACH ROW EXECUTE FUNCTION capacity_version_follows_text();
CREATE TRIGGER suggestions_version_follows_text
    BEFORE UPDATE OF title, description, suggested_by, contact, triage_note, triaged_by
    ON suggestions
    FOR EACH ROW EXECUTE FUNCTION capacity_version_follows_text();
CREATE FUNCTION capacity_course_follows_trainers() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE courses SET version = version + 1
    WHERE tenant_id = NEW.tenant_id AND id = NEW.course_id;
    RETURN NULL;
END $$;
CREATE TRIGGER course_trainers_version_follows_text
    AFTER UPDATE OF name, subject ON course_trainers
    FOR EACH ROW EXECUTE FUNCTION capacity_course_follows_trainers();
CREATE FUNCTION capacity_consultation_follows_actions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE consultations SET version = version + 1
    WHERE tenant_id = NEW.tenant_id AND id = NEW.consultation_id;
    RETURN NULL;
END $$;
CREATE TRIGGER follow_up_actions_version_follows_text
    AFTER UPDATE OF description, owner ON follow_up_actions
    FOR EACH ROW EXECUTE FUNCTION capacity_consultation_follows_actions();
--! sqlite
CREATE TRIGGER topics_version_follows_text
    AFTER UPDATE OF name_ar, name_en, description_ar, description_en ON topics
    FOR EACH ROW WHEN NEW.version = OLD.version
BEGIN
    UPDATE topics SET version = version + 1 WHERE tenant_id = NEW.tenant_id AND code = NEW.code;
END;
CREATE TRIGGER courses_version_follows_text
    AFTER UPDATE OF title_ar, title_en, description_ar, description_en, venue, cancel_reason
    ON courses
    FOR EACH ROW WHEN NEW.version = OLD.version
BEGIN
    UPDATE courses SET version = version + 1 WHERE tenant_id = NEW.tenant_id AND id = NEW.id;
END;
CREATE TRIGGER consultations_version_follows_text
    AFTER UPDATE OF advisor_name, notes, recorded_by ON consultations
    FOR EACH ROW WHEN NEW.version = OLD.version
BEGIN
    UPDATE consultations SET version = version + 1
    WHERE tenant_id = NEW.tenant_id AND id = NEW.id;
END;
CREATE TRIGGER suggestions_version_follows_text
    AFTER UPDATE OF title, description, suggested_by, contact, triage_note, triaged_by
    ON suggestions
    FOR EACH ROW WHEN NEW.version = OLD.version
BEGIN
    UPDATE suggestions SET version = version + 1 WHERE tenant_id = NEW.tenant_id AND id = NEW.id;
END;
CREATE TRIGGER course_trainers_version_follows_text
    AFTER UPDATE OF name, subject ON course_trainers
    FOR EACH ROW
BEGIN
    UPDATE courses SET version = version + 1
    WHERE tenant_id = NEW.tenant_id AND id = NEW.course_id;
END;
CREATE TRIGGER follow_up_actions_version_follows_text
    AFTER UPDATE OF description, owner ON follow_up_actions
    FOR EACH ROW
BEGIN
    UPDATE consultations SET version = version + 1
    WHERE tenant_id = NEW.tenant_id AND id = NEW.consultation_id;
END;
--! all
