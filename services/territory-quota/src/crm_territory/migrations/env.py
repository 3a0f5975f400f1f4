from crm_common.migrations import run_env
from crm_territory.adapters.orm import metadata

run_env(metadata)
