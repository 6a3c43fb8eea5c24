"""Resources: the validated pipeline settings (overridable per run) and the Parquet lake IO manager."""

from dataclasses import dataclass
from typing import Any

import dagster as dg
import duckdb
from pydantic import Field

from engagement_pipeline.config import Config, default_config_path, load_config
from engagement_pipeline.defs.errors import user_errors
from engagement_pipeline.lake import InLake, Lake, as_relation, connection, lake_at

# Definition metadata of an asset whose computation leaves its rows unsorted: the columns
# each partition file is sorted by as it is written (the UI shows it with the asset).
ROW_ORDER = "row_order"


@dataclass(frozen=True)
class EarlierPartitions:
    """An input of earlier partitions that may not all exist: those that do, and their rows."""

    keys: frozenset[str]
    rows: duckdb.DuckDBPyRelation | None  # None when no partition exists


class PipelineSettings(dg.ConfigurableResource):
    """config.yaml, validated; `overrides` (same shape as the file) changes values for one run."""

    # The default lets the launchpad override a single value without repeating the path.
    config_path: str = str(default_config_path().resolve())
    overrides: dict[str, Any] = Field(
        default_factory=dict,
        description="Values merged over config.yaml for this run, e.g. {ltv: {discount_rate: 0.2}}.",
    )

    def load(self) -> Config:
        return load_config(self.config_path, overrides=self.overrides or None)


class ParquetLakeIOManager(dg.ConfigurableIOManager):
    """Stores each asset partition as one Parquet file in the lake; loads inputs as DuckDB relations.

    Outputs may be DuckDB relations (written by DuckDB without passing through Python) or
    pandas DataFrames; both carry a snapshot_date column. Inputs come back as lazy relations
    over exactly the upstream partitions the run's partition mapping asks for.
    """

    lake_path: str = Field(description="The lake's folder, or its s3://bucket/prefix URI.")
    s3_endpoint_url: str | None = Field(
        default=None, description="An S3-compatible store's URL (storage.s3.endpoint_url)."
    )
    s3_region: str | None = Field(default=None, description="The bucket's region.")

    @property
    def lake(self) -> Lake:
        return lake_at(self.lake_path, self.s3_endpoint_url, self.s3_region)

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        asset = context.asset_key.to_python_identifier()
        con = connection()
        if not isinstance(obj, InLake):  # else its engine wrote the partitions already
            with user_errors():
                self.lake.write(
                    con,
                    asset,
                    as_relation(con, obj),
                    list(context.asset_partition_keys),
                    (context.definition_metadata or {}).get(ROW_ORDER),
                )
        # Row counts and previews are each partition's own (the asset records them).
        context.add_output_metadata(
            {"lake_path": dg.MetadataValue.path(str(self.lake.asset_dir(asset)))}
        )

    def load_input(self, context: dg.InputContext) -> Any:
        """A lazy relation over the input's partitions; with `existing_partitions_only` in
        the input's metadata, EarlierPartitions over those that exist."""
        asset = context.asset_key.to_python_identifier()
        keys = list(context.asset_partition_keys)
        with user_errors():
            if (context.definition_metadata or {}).get("existing_partitions_only"):
                found = frozenset(keys) & self.lake.existing_keys(asset)
                rows = self.lake.read(connection(), asset, found) if found else None
                return EarlierPartitions(found, rows)
            return self.lake.read(connection(), asset, keys)
