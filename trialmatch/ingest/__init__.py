"""Getting trials in: the ClinicalTrials.gov API client, record normalisation and the store.

Knows nothing of `trialmatch.nlp`; criteria parsing is passed in by the caller.

- `normalize`  study JSON -> `StudyRecord` (pure; ages in years, validation of the NCT id)
- `migrations` the schema, applied on every open (the only place with CREATE TABLE)
- `store`      `TrialStore`: upserts, annotations, candidate selection, reads, FTS, runs
- `client`     `CtgovClient`: timeouts, retries with backoff and jitter, Retry-After, pacing
- `refresh`    paging the API into the store, incremental, resumable, one at a time
- `files`      study files, folders, saved pages and bulk export zips into the store
"""
