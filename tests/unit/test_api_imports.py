"""What the API process loads: grpc and the Temporal SDK only when the frontend is asked for its version."""

from __future__ import annotations

import subprocess
import sys

WHAT_IS_LOADED = """
import sys
import copilot.app
print(sorted(m for m in ('grpc', 'temporalio') if m in sys.modules))
from copilot import frontend
import asyncio
try:
    asyncio.run(frontend.get_cluster_info('127.0.0.1:9', timeout_s=0.2))
except Exception as exc:  # nothing listens there: only the import path matters
    print(type(exc).__name__)
print(sorted(m for m in ('grpc', 'temporalio') if m in sys.modules))
"""


def test_the_api_loads_grpc_and_the_temporal_sdk_only_to_ask_the_frontend() -> None:
    out = subprocess.run([sys.executable, "-c", WHAT_IS_LOADED], capture_output=True, text=True, check=True, timeout=60)
    before, failure, after = out.stdout.split("\n")[:3]
    assert before == "[]", out.stdout
    assert failure in ("AioRpcError", "TimeoutError"), out.stdout  # the call was made: no NameError, no ImportError
    assert after == "['grpc', 'temporalio']", out.stdout
