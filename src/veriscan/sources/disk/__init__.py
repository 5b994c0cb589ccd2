"""Forensic disk images (raw, split raw, EWF): volumes, file systems, deleted files, carving."""
