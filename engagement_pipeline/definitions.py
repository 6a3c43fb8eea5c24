"""The Dagster code location: everything built from config.yaml ($CONFIG_PATH overrides it)."""

from engagement_pipeline.defs.build import build_definitions

defs = build_definitions()
