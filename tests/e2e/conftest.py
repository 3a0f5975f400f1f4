"""The suite-level flows: their `suite` fixture (every service of the registry running as in
production, with real PostgreSQL and RabbitMQ) is crm_common.testing_e2e, a plugin the root
pyproject loads, so these tests and each service's own tests/e2e share one running suite."""
