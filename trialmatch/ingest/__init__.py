"""Getting trials in: the ClinicalTrials.gov API client, record normalisation and the store.

Knows nothing of `trialmatch.nlp`; criteria parsing is passed in by the caller.
"""
