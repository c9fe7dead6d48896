"""A run's progress for its admin page: steps done of total, each step's status and numbers."""

from pipelines.models import FINAL_STATUSES, ROWS_WRITTEN, PipelineRun, RunStatus, StepStatus

STEP_DONE = (*FINAL_STATUSES, StepStatus.SKIPPED)


def run_billing_periods(details) -> list[dict]:
    """The billing periods a run's steps replaced, in step order, from each step's details."""
    return [
        period
        for found in details
        if isinstance(found, dict)
        for period in found.get("billing_periods") or ()
    ]


def run_progress(*, run: PipelineRun) -> dict:
    """Status, steps done of total, and every step, in one query for the steps."""
    steps = sorted(run.steps.all(), key=lambda s: s.index)
    done = sum(1 for s in steps if s.status in STEP_DONE)
    written = [
        s.details[ROWS_WRITTEN]
        for s in steps
        if s.status == RunStatus.COMPLETED
        and isinstance(s.details, dict)
        and ROWS_WRITTEN in s.details
    ]
    total = len(steps)
    return {
        "id": str(run.pk),
        "status": run.status,
        "final": run.status in FINAL_STATUSES,
        "cancel_requested": run.cancel_requested,
        "steps_done": done,
        "steps_total": total,
        "percent": round(100 * done / total)
        if total
        else (100 if run.status in FINAL_STATUSES else 0),
        # Rows written to the final table so far (the run's own figure once it has finished).
        "rows_processed": written[-1] if written else 0,
        "duration_ms": run.duration_ms,
        "error_message": run.error_message,
        "steps": [
            {
                "index": s.index,
                "step_id": s.step_id,
                "ps_type": s.ps_type,
                "status": s.status,
                "rows_processed": s.rows_processed,
                "duration_ms": s.duration_ms,
                "duration_text": _seconds_text(s.duration_ms),
                "error_message": s.error_message,
            }
            for s in steps
        ],
        # The billing periods it replaced, with the file that wrote each (x_meta_focus_periods).
        "billing_periods": run_billing_periods(s.details for s in steps),
        # Data-quality and FOCUS conformance outcomes (x_meta_dq_results), failures first.
        "checks": sorted(
            (
                {"step_id": s.step_id, "name": name, **outcome}
                for s in steps
                for name, outcome in ((s.details or {}).get("checks") or {}).items()
            ),
            key=lambda c: (c.get("passed", True), c["step_id"], c["name"]),
        ),
    }


def _seconds_text(ms: int | None) -> str:
    return "—" if ms is None else f"{ms / 1000:.1f} s"
