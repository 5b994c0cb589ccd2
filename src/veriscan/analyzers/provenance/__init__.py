"""AI-generation evidence: generator metadata, C2PA, IPTC source types, invisible watermarks."""
