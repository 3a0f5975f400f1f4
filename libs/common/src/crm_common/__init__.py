"""Shared platform of the CRM suite; every service builds on it and none copies it."""
