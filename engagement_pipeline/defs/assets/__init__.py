"""Asset factories: partitions come from config, so assets are built for a partitions definition."""
