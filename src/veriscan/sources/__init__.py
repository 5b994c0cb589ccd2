"""Evidence sources: where items come from, always opened read-only."""
