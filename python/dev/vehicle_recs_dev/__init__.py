"""Development-only tooling of vehicle-recs: used by the tests and CI, never installed.

The runtime package is `vehicle_recs` (python/src, the wheel); this one lives under python/dev,
outside setuptools' `where = ["src"]`, so the wheel does not carry it. pytest puts python/dev on
`sys.path` (`pythonpath` in python/pyproject.toml); from the repo root, anything else runs it
with `PYTHONPATH=python/dev`.

- `bigquery_gate`: the offline BigQuery compile + sqlglot checks
  (`python -m vehicle_recs_dev.bigquery_gate`, `make check-bigquery`).
- `bigquery_emulator`: the driver of the local BigQuery emulator the emulator tests run against.
- `bandit_reference`: Python references the bandit tests compare the dbt marts and the policy
  with.
- `payload_checks`: checks of a finished run's payloads against the raw tables.
"""
