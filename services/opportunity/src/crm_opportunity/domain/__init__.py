"""Opportunities, money and pipelines; no gRPC, no SQL."""
