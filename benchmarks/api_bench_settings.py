"""Settings for benchmarks/api_throughput.py: production, plus two reference routes."""

from convergence.settings.production import *  # noqa: F403

ROOT_URLCONF = "benchmarks.api_bench_urls"
