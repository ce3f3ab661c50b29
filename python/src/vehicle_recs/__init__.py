"""vehicle_recs: vehicle-aware product recommendations for a car-parts retailer.

The ranking lives in the dbt project at the repository root; this package is the thin layer
around it: synthetic data, running dbt, reading the final model and writing email payloads.
"""

__version__ = "0.1.0"
