"""Lead domain: entities, the status machine, scoring, assignment and SLA rules (no I/O)."""
