"""The Dagster layer: partitions, resources, the lake IO manager, assets, jobs and schedules."""
