"""Alembic migrations of the opportunity service's database (`crm-opportunity migrate`)."""
