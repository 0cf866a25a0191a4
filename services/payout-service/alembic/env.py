from payout_service.adapters.tables import metadata
from provisio_common.migrations import run_env

run_env(metadata)
