"""Fixtures of the territory-quota service's tests: its live API on each database backend."""

from __future__ import annotations

from crm_common.testing import live_fixtures
from crm_territory.adapters.orm import metadata
from crm_territory.service import SERVICE

live, api = live_fixtures(SERVICE, metadata)
