"""Readers and writers for known-hash lists and the category schemes they use."""
