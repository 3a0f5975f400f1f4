"""Alembic migrations of the account service's database (`crm-account migrate`)."""
