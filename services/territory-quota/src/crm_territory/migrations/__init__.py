"""Alembic migrations of the territory-quota service's database (`crm-territory-quota migrate`)."""
