"""gunicorn.conf.py sizes the workers for the cores the server may run on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# gunicorn.conf.py read as gunicorn reads it (a file of settings), in a process of its own,
# after limiting that process to ``cores`` of the machine's cores (as taskset or a
# container's cpuset would).
READ_WORKERS = """
import os, runpy, sys
cores = int(sys.argv[1])
if cores:
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:cores])
print(runpy.run_path("gunicorn.conf.py")["workers"])
"""

needs_affinity = pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity"), reason="the platform cannot limit a process's cores"
)


def workers(cores: int, **env: str) -> int:
    environment = {k: v for k, v in os.environ.items() if k != "VOUCHER_WORKERS"}
    done = subprocess.run(  # noqa: S603 - our interpreter, fixed arguments
        [sys.executable, "-c", READ_WORKERS, str(cores)],
        cwd=ROOT,
        env={**environment, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout)


@needs_affinity
def test_a_server_held_to_one_core_gets_three_workers():
    assert workers(1) == 3


@needs_affinity
def test_workers_follow_the_cores_the_server_may_use():
    assert workers(0) == 2 * len(os.sched_getaffinity(0)) + 1


def test_voucher_workers_sets_the_count():
    assert workers(0, VOUCHER_WORKERS="7") == 7
