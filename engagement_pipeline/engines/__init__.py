"""Engines the snapshot computations run on: DuckDB (embedded, the default) and Spark.

The computations are written once, in DuckDB SQL over DuckDB relations; `spark` runs them
on Apache Spark by translating each query (`translate`). See docs/assumptions.md, "Engines".
"""
