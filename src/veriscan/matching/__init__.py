"""Matching contents against known-hash lists (exact and perceptual)."""
