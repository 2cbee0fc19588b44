"""The event store: models, migrations, the durable write path and the shared queries."""
