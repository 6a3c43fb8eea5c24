"""Business logic: plain functions over DuckDB relations that know nothing of Dagster."""
