"""The platform's own tables (outbox, inbox, idempotency keys, and any later one), as one Alembic
history that every service's database carries beside its own.

The revisions in `versions/` form the branch labelled `platform`. Every service's Alembic
configuration lists this directory as a second version location
(`crm_common.migrations.version_locations`), so `crm-<service> migrate` upgrades a database to
all heads: the service's and the platform's. A service revision that needs a platform table
names it in `depends_on` (the services' first revisions name platform_0001). A platform schema
change is one new revision here, with `down_revision` the current platform head; every service
gets it with its next `migrate`.

While a service revision depends on the platform's head itself, Alembic records only the
service's revision in `alembic_version` (the platform head is implied), so `alembic current`
lists one revision fewer than `alembic heads` although nothing is pending.
"""
