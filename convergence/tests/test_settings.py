"""Settings fail with a clear message on a bad environment, not a KeyError."""

import os
import subprocess
import sys

from django.conf import settings


def test_empty_database_url_is_a_clear_error():
    env = {**os.environ, "DATABASE_URL": "", "DJANGO_SETTINGS_MODULE": "convergence.settings.test"}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "DATABASE_URL is set but empty" in result.stderr
    assert "KeyError" not in result.stderr
