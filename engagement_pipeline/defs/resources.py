"""Resources: the validated pipeline settings (overridable per run) and the Parquet lake IO manager."""

from typing import Any

import dagster as dg
import pandas as pd
from pydantic import Field

from engagement_pipeline.config import Config, default_config_path, load_config
from engagement_pipeline.defs.errors import user_errors
from engagement_pipeline.lake import Lake, as_relation, connection
from engagement_pipeline.markdown import markdown_table


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

    lake_path: str

    @property
    def lake(self) -> Lake:
        return Lake(self.lake_path)

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        asset = context.asset_key.to_python_identifier()
        keys = list(context.asset_partition_keys)
        con = connection()
        with user_errors():
            counts = self.lake.write(con, asset, as_relation(con, obj), keys)
        metadata: dict[str, Any] = {
            "dagster/row_count": sum(counts.values()),
            "lake_path": dg.MetadataValue.path(str(self.lake.asset_dir(asset))),
        }
        if len(keys) > 1:
            metadata["rows_per_partition"] = dg.MetadataValue.md(
                markdown_table(
                    pd.DataFrame({"snapshot_date": list(counts), "rows": list(counts.values())}),
                    max_rows=60,
                )
            )
        context.add_output_metadata(metadata)

    def load_input(self, context: dg.InputContext) -> Any:
        asset = context.asset_key.to_python_identifier()
        with user_errors():
            return self.lake.read(connection(), asset, context.asset_partition_keys)
