from crm_account.adapters.orm import metadata
from crm_common.migrations import run_env

run_env(metadata)
