from crm_platform.db.migrations import run_env

run_env()
