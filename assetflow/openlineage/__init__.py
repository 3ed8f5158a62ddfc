"""OpenLineage events for every run and step, kept in the store's outbox and sent after
the metadata commit (see docs/openlineage.md)."""
