"""An aiosmtpd sink in its own process: PIPELINING offered, STARTTLS offered when given a
certificate, every message accepted and counted. For benchmarks that compare plain SMTP
with STARTTLS against the same server (its own process, so it does not share the
client's interpreter lock).

Run: python -m tests.replay.aiosmtpd_sink PORT [CERT KEY]
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP


class Sink:
    """Accepts every message; offers PIPELINING (aiosmtpd reads commands in order)."""

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        return [responses[0], "250-PIPELINING", *responses[1:]]

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


async def serve(port: int, cert: str | None, key: str | None) -> None:
    context = None
    if cert is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(Sink(), tls_context=context, data_size_limit=None),
        "127.0.0.1",
        port,
    )
    async with server:
        await server.serve_forever()


def start(port: int, cert: Path | None = None, key: Path | None = None) -> subprocess.Popen[bytes]:
    """The sink in a child process, once it accepts connections."""
    root = Path(__file__).resolve().parents[2]
    extra = [] if cert is None or key is None else [str(cert), str(key)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.replay.aiosmtpd_sink", str(port), *extra], cwd=root
    )
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("the aiosmtpd sink did not start")


if __name__ == "__main__":
    args = sys.argv[1:]
    asyncio.run(serve(int(args[0]), *(args[1:3] if len(args) >= 3 else (None, None))))
