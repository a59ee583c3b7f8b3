"""Idempotent demo data for local and test environments (refused in production unless explicitly allowed)."""
