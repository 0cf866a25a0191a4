from provisio_common.migrations import run_env
from quota_service.adapters.tables import metadata

run_env(metadata)
