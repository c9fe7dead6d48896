"""Settings for benchmarks/api_throughput.py: production, plus two reference routes.

One change to production's behaviour, for the benchmark only: the request rate limits are
raised far above what the load generator sends (all of it from one address and one key), so
every measured request is served rather than refused with 429. The throttles still run and
count every request in Redis, as in production.
"""

from convergence.settings.production import *  # noqa: F403

ROOT_URLCONF = "benchmarks.api_bench_urls"
API_THROTTLE_RATES = {"key": "100000000/minute", "address": "100000000/minute", "webhook": None}
