"""Per-tenant schedules, the dispatcher, retries, quota windows and system jobs."""
