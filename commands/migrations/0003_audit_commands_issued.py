"""Every command issued goes into the audit trail (security.AuditEntry), written by the database: an
insert in the same statement as the command's, with no round trip of its own, since the reverse API
issues a thousand commands at once through a few issue slots (docs/adr/0026)."""

from django.db import migrations

AUDIT_COMMANDS = """
CREATE FUNCTION commands_command_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO security_auditentry (at, user_id, actor, via, source, action, object_type, object_id, summary,
                                     changes)
    VALUES (NEW.created, NEW.requested_by_id,
            COALESCE((SELECT username FROM auth_user WHERE id = NEW.requested_by_id), 'system'),
            LEFT(NEW.source, 60), '', 'created', 'commands.Command', NEW.id::text,
            LEFT(format('commands.Command #%s %s to box %s created', NEW.id, NEW.action, NEW.box_id), 255),
            jsonb_build_object('box_id', NEW.box_id, 'action', NEW.action, 'payload', NEW.payload));
    RETURN NULL;
END $$;
CREATE TRIGGER commands_command_audit AFTER INSERT ON commands_command
    FOR EACH ROW EXECUTE FUNCTION commands_command_audit();
"""
DROP_AUDIT_COMMANDS = """
DROP TRIGGER commands_command_audit ON commands_command;
DROP FUNCTION commands_command_audit();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("commands", "0002_command_box_claims"),
        ("security", "0001_api_tokens_and_audit_trail"),
    ]

    operations = [migrations.RunSQL(AUDIT_COMMANDS, DROP_AUDIT_COMMANDS)]
