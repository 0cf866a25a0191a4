from deal_ingest.adapters.tables import metadata
from provisio_common.migrations import run_env

run_env(metadata)
