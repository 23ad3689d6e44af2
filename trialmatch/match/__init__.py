"""Matching a case against the store: verdicts, ranking, protocols, testing gaps, discrepancies."""
