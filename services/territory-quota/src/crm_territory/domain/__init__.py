"""Territories, assignment rules, owner selection, realignment, quotas and attainment; no gRPC, no SQL."""
