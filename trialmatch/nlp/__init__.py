"""Reading text: pathology notes into a Profile, eligibility criteria into Requirements.

Knows nothing of `trialmatch.ingest`; no spaCy object leaves this package.
"""
