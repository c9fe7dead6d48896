"""Settings for benchmarks/api_throughput.py: production, plus two reference routes.

One change to production's behaviour, for the benchmark only: the request rate limits are
raised far above what the load generator sends (all of it from one address and one key), so
every measured request is served rather than refused with 429. The throttles still run and
count every request in Redis, as in production.
"""

import os

# Production names every backend explicitly; the benchmark's are the local ones.
for name, value in {
    "WAREHOUSE_ENDPOINT": "http://127.0.0.1:9050",
    "WAREHOUSE_PROJECT": "convergence-local",
    "KMS_BACKEND": "local",
    "WAREHOUSE_TENANT_IDENTITY": "false",
    # The local emulator has no IAM: production's explicit opt-out, for the benchmark only.
    "WAREHOUSE_TENANT_IDENTITY_OFF_PLATFORM_ACCOUNT_READS_EVERY_TENANT": "true",
}.items():
    os.environ.setdefault(name, value)

from convergence.settings.production import *  # noqa: E402, F403

ROOT_URLCONF = "benchmarks.api_bench_urls"
API_THROTTLE_RATES = {"key": "100000000/minute", "address": "100000000/minute", "webhook": None}
