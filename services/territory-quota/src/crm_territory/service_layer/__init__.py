"""Use cases, one module per capability, bundled in use_cases.py."""
