from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def backfill(apps, schema_editor):
    """Each room's first operator message, in one UPDATE (the rooms no operator wrote in stay
    empty)."""
    Room = apps.get_model("chat", "Room")
    Message = apps.get_model("chat", "Message")
    first = Message.objects.filter(room_id=OuterRef("pk"), sender="operator").order_by("at").values("at")[:1]
    Room.objects.update(first_reply_at=Subquery(first))


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0018_room_site_created"),
    ]

    operations = [
        migrations.AddField(
            model_name="room",
            name="first_reply_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
    ]
