"""Signals the engine sends, so that apps above it react without being imported by it."""

from django.dispatch import Signal

# Sent once a run has reached a final status, after its transaction commits. Arguments:
# ``run_id``, ``tenant_id``, ``status`` (a RunStatus) and ``wrote_focus`` (True when the run
# completed a pipeline that writes a FOCUS table).
run_finished = Signal()
