"""Analyzers: turn one file's bytes into typed facts."""
