"""A server child outlives no parent: killed outright, its parent leaves no server
behind holding the port and the store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PARENT = textwrap.dedent(
    """
    import sys, time
    from simulator.collect.directory import Directory
    from simulator.collect.servers import ServerProcess, ServerSpec
    from simulator.rules import ContentRules

    spec = ServerSpec(sys.argv[1], sys.argv[2], {"r1": ContentRules()},
                      Directory([("a@dhs.example", "DHS")]))
    server = ServerProcess(spec)
    server.start()
    print(server.process.pid, flush=True)
    time.sleep(60)
    """
)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is gone for our purpose: it serves nothing
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(") ", 1)[1][0] != "Z"


@pytest.mark.integration
@pytest.mark.parametrize("kind", ["api", "mailbox"])
def test_a_server_child_drains_and_exits_when_its_parent_is_killed(
    tmp_path: Path, kind: str
) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, kind, str(tmp_path / "store.db")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert _alive(child)
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 15
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(child), "the server outlived its parent"
    finally:
        parent.kill()
        parent.wait()
