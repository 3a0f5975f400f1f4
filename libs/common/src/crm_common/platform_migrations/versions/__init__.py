"""Revisions of the `platform` branch (see the package's docstring)."""
