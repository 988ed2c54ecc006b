"""A throwaway nginx (Debian's) on free loopback ports, answering every POST from memory.

Used by the HTTPS integration tests and by `benchmarks/bench_replay_http.py`. The
configuration, pid file, logs and temp folders live under one directory; nginx runs in
the foreground (`daemon off`) and is stopped by the context manager. A plain listener is
always there; with `TlsFiles` a second one speaks TLS with that certificate, and with a
client CA it requires a client certificate it issued (`ssl_verify_client on`: nginx then
answers 400 to a request without one).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

CONF = """
worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {d}; proxy_temp_path {d}; fastcgi_temp_path {d};
  uwsgi_temp_path {d}; scgi_temp_path {d};
  keepalive_requests 100000000;
  server {{
    listen 127.0.0.1:{port};
    {tls}
    location / {{
      if ($request_method != POST) {{ return 405; }}
      return {status};
    }}
  }}
}}
"""

TLS = """
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:tls:1m;
"""

CLIENT_CA = """
    ssl_client_certificate {ca};
    ssl_verify_client on;
"""


@dataclass(frozen=True)
class TlsFiles:
    cert: Path  # server certificate chain (PEM)
    key: Path  # its private key (PEM)
    client_ca: Path | None = None  # require client certificates issued by this CA


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def nginx_binary() -> str | None:
    """Debian installs nginx in /usr/sbin, which a non-root PATH may lack."""
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")


def unavailable() -> str | None:
    """Why nginx cannot run here (a reason for pytest.skip), or None when it can."""
    if nginx_binary() is None:
        return "nginx is not installed (tests/setup.sh installs Debian's nginx)"
    return None


class Nginx:
    """`with Nginx(workdir, status=202, tls=TlsFiles(...)) as nginx:` serves
    http://127.0.0.1:{nginx.port}/ and, with tls, https://...:{nginx.tls_port}/."""

    def __init__(self, workdir: Path, status: int = 202, tls: TlsFiles | None = None) -> None:
        self.workdir = workdir
        self.status = status
        self.tls = tls
        self.port = free_port()
        self.tls_port = free_port() if tls is not None else None
        self.proc: subprocess.Popen[bytes] | None = None

    def config(self) -> str:
        tls = ""
        if self.tls is not None:
            tls = TLS.format(port=self.tls_port, cert=self.tls.cert, key=self.tls.key)
            if self.tls.client_ca is not None:
                tls += CLIENT_CA.format(ca=self.tls.client_ca)
        return CONF.format(d=self.workdir, port=self.port, tls=tls, status=self.status)

    def __enter__(self) -> Nginx:
        binary = nginx_binary()
        assert binary is not None, unavailable()
        conf = self.workdir / "nginx.conf"
        conf.write_text(self.config())
        self.proc = subprocess.Popen(
            [
                binary,
                "-p",
                str(self.workdir),
                "-c",
                str(conf),
                "-e",
                str(self.workdir / "error.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        ports = [p for p in (self.port, self.tls_port) if p is not None]
        deadline = time.monotonic() + 10
        while not all(_listening(p) for p in ports):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                log = (self.workdir / "error.log").read_text(errors="replace")
                raise RuntimeError(f"nginx did not start: {log[-2000:]}")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
        return True
    except OSError:
        return False
