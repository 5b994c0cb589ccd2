"""Builders shared by tests: hostile inputs made in code, never stored."""
