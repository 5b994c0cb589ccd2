"""Review: accounts, the audit log and (next) reviewers decisions; the web app builds on it."""
