"""Accounts and the rules that keep one record per customer; no gRPC, no SQL."""
