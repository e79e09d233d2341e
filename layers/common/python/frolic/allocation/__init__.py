"""Deciding who wins: the allocator, its store port, claims and sub-budgets. No AWS here."""
