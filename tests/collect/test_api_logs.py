"""No log line of the API server carries reply text or a token, whatever a client sends.

The server runs as `python -m simulator serve api` in a child process with its stdout
and stderr captured. Malformed requests carry a unique phrase in their body, headers and
request line, and a real bearer token; aiohttp's own error log would print the raw bytes
of such requests. Afterwards neither the phrase nor the token may appear in the output,
while the errors themselves are still logged (by type).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from simulator.tokens import load_or_create_secret, mint_token

pytestmark = pytest.mark.integration
PHRASE = "okapi-vermilion-secret-phrase"


def malformed(token: str) -> list[bytes]:
    auth = f"Authorization: Bearer {token}\r\n"
    post = f"POST /replies HTTP/1.1\r\nHost: x\r\n{auth}"
    reply = {"sender": "ann.lee@dhs.example", "round": "r1", "to": "hr@opm.example"}
    good = json.dumps({**reply, "bullets": [PHRASE], "idempotency_key": "k"})
    return [
        f"{post}X-Bad\x01: {PHRASE}\r\nContent-Length: 2\r\n\r\n{{}}",  # bad header name
        f"POST /replies HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\x01{PHRASE}\r\n\r\n",
        f"{post}Transfer-Encoding: chunked\r\n\r\nzz {PHRASE}\r\n",  # bad chunk size
        f"{post}Content-Length: 12 {PHRASE}\r\n\r\n",  # bad Content-Length
        f"{post}Content-Encoding: gzip\r\nContent-Length: {len(PHRASE)}\r\n\r\n{PHRASE}",
        f"{post}X-Long: {PHRASE * 400}\r\n\r\n",  # a header line over 8190 bytes
        f"GET /health HTTP/1.1\r\nHost: x\r\n\r\n{PHRASE}\x00 /{token} HTTP/1.1\r\n\r\n",
        f"{post}Content-Length: {len(good) + 5}\r\n\r\n{good}",  # body shorter than said
        f'{post}Content-Length: 20\r\n\r\n{{"sender": "{PHRASE}',  # not JSON
        f"{post}Content-Length: {len(good)}\r\n\r\n{good.replace(PHRASE, PHRASE + ' http://x.example')}",
        f"{post}Transfer-Encoding: chunked\r\n\r\n{0x10000:x}\r\n{PHRASE * 3000}\r\n0\r\n\r\n",
        f"\x16\x03\x01{PHRASE}{token}\r\n\r\n",  # TLS-ish garbage
    ]


async def send(port: int, request: bytes) -> bytes:
    """The server's answer, up to its closing the connection or 3 s of silence."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 3)
    except (ConnectionError, OSError, TimeoutError):
        return b""
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()


async def test_malformed_requests_leave_no_text_or_token_in_the_logs(tmp_path: Path) -> None:
    wf = tmp_path / "wf.parquet"
    pq.write_table(pa.table({"email": ["ann.lee@dhs.example"], "department": ["DHS"]}), wf)
    secret_file, err_file = tmp_path / "secret", tmp_path / "stderr.txt"
    cmd = [sys.executable, "-m", "simulator", "serve", "api", "--store", str(tmp_path / "db")]
    cmd += ["--workforce", str(wf), "--secret-file", str(secret_file)]
    with err_file.open("w") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True)
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline()
            match = re.search(r":(\d+)$", first.strip())
            assert match, first
            token = mint_token(load_or_create_secret(secret_file), "DHS")
            answers = [await send(int(match.group(1)), r.encode()) for r in malformed(token)]
        finally:
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    logged = first + out + err_file.read_text()
    assert all(a.startswith(b"HTTP/1.") for a in answers[:6])  # the requests were answered
    assert PHRASE not in logged
    assert token not in logged and token.rsplit(".", 1)[1] not in logged
    assert "HTTP request failed: BadHttpMessage" in logged  # errors still logged, by type
