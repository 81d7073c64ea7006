from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("ai_agent", "0001_initial"), ("inbox", "0001_initial")]

    operations = [migrations.RenameModel("AgentProfile", "AiProfile")]
