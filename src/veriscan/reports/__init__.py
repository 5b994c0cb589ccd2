"""Exports and reports built from the case store."""
