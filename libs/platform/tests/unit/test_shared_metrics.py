import os
import subprocess
import sys

from crm_platform.telemetry.metrics import MULTIPROCESS_DIR, shared_metrics

# Each child counts requests as a worker would; the last one scrapes as /metrics would.
_WORKER = """
from crm_platform.telemetry.metrics import HTTP_REQUESTS
HTTP_REQUESTS.labels("/r", "GET", "200").inc({count})
"""
_SCRAPE = """
from crm_platform.telemetry.metrics import exposition
print(exposition().decode())
"""


def _python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout


def test_workers_share_one_scrape() -> None:
    with shared_metrics(2):
        directory = os.environ[MULTIPROCESS_DIR]
        _python(_WORKER.format(count=3))
        _python(_WORKER.format(count=4))
        scrape = _python(_SCRAPE)
    assert 'crm_http_requests_total{method="GET",route="/r",status="200"} 7.0' in scrape
    assert MULTIPROCESS_DIR not in os.environ
    assert not os.path.exists(directory)


def test_one_process_needs_no_sharing() -> None:
    with shared_metrics(1):
        assert MULTIPROCESS_DIR not in os.environ
