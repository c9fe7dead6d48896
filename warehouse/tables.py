"""The tables and view every tenant dataset holds; their schemas are defined here only."""

from warehouse.bigquery import Column

PIPELINE_RUNS = "x_meta_pipeline_runs"
STEP_LOGS = "x_meta_step_logs"
DQ_RESULTS = "x_meta_dq_results"
# Per FOCUS table and billing period: the days its rows cover and the run and file that last
# wrote it (focus/periods.py).
FOCUS_PERIODS = "x_meta_focus_periods"
COMPREHENSIVE_VIEW = "tenant_comprehensive_view"

META_TABLES: dict[str, tuple[Column, ...]] = {
    PIPELINE_RUNS: (
        Column("pipeline_logging_id", "STRING", "REQUIRED"),
        Column("tenant_id", "STRING", "REQUIRED"),
        Column("pipeline_id", "STRING", "REQUIRED"),
        Column("config_path", "STRING"),
        Column("status", "STRING", "REQUIRED"),
        Column("trigger", "STRING"),
        Column("user_id", "STRING"),
        Column("parameters", "JSON"),
        Column("started_at", "TIMESTAMP"),
        Column("ended_at", "TIMESTAMP"),
        Column("duration_ms", "INT64"),
        Column("rows_processed", "INT64"),
        Column("bytes_processed", "INT64"),
        Column("error_message", "STRING"),
        Column("logged_at", "TIMESTAMP", "REQUIRED"),
    ),
    STEP_LOGS: (
        Column("step_logging_id", "STRING", "REQUIRED"),
        Column("pipeline_logging_id", "STRING", "REQUIRED"),
        Column("tenant_id", "STRING", "REQUIRED"),
        Column("step_id", "STRING", "REQUIRED"),
        Column("ps_type", "STRING"),
        Column("step_index", "INT64"),
        Column("status", "STRING", "REQUIRED"),
        Column("started_at", "TIMESTAMP"),
        Column("ended_at", "TIMESTAMP"),
        Column("duration_ms", "INT64"),
        Column("rows_processed", "INT64"),
        Column("bytes_processed", "INT64"),
        Column("error_message", "STRING"),
        Column("logged_at", "TIMESTAMP", "REQUIRED"),
    ),
    DQ_RESULTS: (
        Column("dq_result_id", "STRING", "REQUIRED"),
        Column("pipeline_logging_id", "STRING", "REQUIRED"),
        Column("tenant_id", "STRING", "REQUIRED"),
        Column("step_id", "STRING"),
        Column("check_name", "STRING", "REQUIRED"),
        Column("table_name", "STRING"),
        Column("status", "STRING", "REQUIRED"),
        Column("observed", "STRING"),
        Column("expected", "STRING"),
        Column("message", "STRING"),
        Column("checked_at", "TIMESTAMP", "REQUIRED"),
    ),
    FOCUS_PERIODS: (
        Column("table_name", "STRING", "REQUIRED"),
        Column("billing_period_start", "TIMESTAMP", "REQUIRED"),
        Column("day_from", "TIMESTAMP"),
        Column("day_to", "TIMESTAMP"),
        Column("row_count", "INT64"),
        Column("pipeline_logging_id", "STRING"),
        Column("source_name", "STRING"),
        Column("source_bytes", "INT64"),
        Column("source_sha256", "STRING"),
        Column("written_at", "TIMESTAMP"),
    ),
}


def comprehensive_view_sql(runs: str, steps: str, dq: str) -> str:
    """One row per run with its step and data-quality counts; arguments are quoted tables."""
    return (
        "SELECT r.pipeline_logging_id, r.tenant_id, r.pipeline_id, r.config_path, r.status, "
        "r.trigger, r.user_id, r.started_at, r.ended_at, r.duration_ms, r.rows_processed, "
        "r.bytes_processed, r.error_message, "
        "COALESCE(s.step_count, 0) AS step_count, COALESCE(s.failed_steps, 0) AS failed_steps, "
        "COALESCE(d.dq_checks, 0) AS dq_checks, COALESCE(d.dq_failed, 0) AS dq_failed "
        f"FROM {runs} AS r "
        "LEFT JOIN (SELECT pipeline_logging_id, COUNT(*) AS step_count, "
        "COUNTIF(status = 'FAILED') AS failed_steps "
        f"FROM {steps} GROUP BY pipeline_logging_id) AS s "
        "ON s.pipeline_logging_id = r.pipeline_logging_id "
        "LEFT JOIN (SELECT pipeline_logging_id, COUNT(*) AS dq_checks, "
        "COUNTIF(status = 'FAIL') AS dq_failed "
        f"FROM {dq} GROUP BY pipeline_logging_id) AS d "
        "ON d.pipeline_logging_id = r.pipeline_logging_id"
    )
