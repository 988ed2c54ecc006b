"""TLS for the replay's clients: one client context from a CA file and a client certificate.

Theory of operation: every TLS-speaking client (the lean HTTP client and aiohttp for
https://, the SMTP client for smtps:// and STARTTLS) takes its `ssl.SSLContext` from
`TlsOptions.context()`, so verification is configured in one place: the system's trust
store unless a CA file is given, hostname checking against `server_name` (default: the
target's host name, which is also sent as SNI), and an optional client certificate for
mutual TLS. Verification is never switched off.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

from simulator.validation import InputError


@dataclass(frozen=True)
class TlsOptions:
    """Where to find the trust anchors and the client's own certificate (all optional)."""

    ca_file: Path | None = None  # PEM bundle to trust instead of the system's store
    cert_file: Path | None = None  # client certificate (PEM), for mutual TLS
    key_file: Path | None = None  # its private key, when not in cert_file
    server_name: str | None = None  # name to send as SNI and verify; default the host

    def context(self, source: str = "command line") -> ssl.SSLContext:
        """A verifying client context; a file that cannot be read is an InputError."""
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        if self.ca_file is not None:
            try:
                context.load_verify_locations(cafile=str(self.ca_file))
            except (OSError, ssl.SSLError) as err:
                raise InputError(source, "--ca-file", str(self.ca_file), _why(err)) from None
        if self.key_file is not None and self.cert_file is None:
            raise InputError(
                source, "--client-key", str(self.key_file), "needs --client-cert as well"
            )
        if self.cert_file is not None:
            key = None if self.key_file is None else str(self.key_file)
            try:
                context.load_cert_chain(str(self.cert_file), key)
            except (OSError, ssl.SSLError) as err:
                raise InputError(source, "--client-cert", str(self.cert_file), _why(err)) from None
        return context

    def sni(self, host: str) -> str:
        """The name the handshake sends and the certificate must carry."""
        return self.server_name or host.strip("[]")


def _why(err: Exception) -> str:
    if isinstance(err, OSError) and err.strerror:
        return f"cannot be read ({err.strerror})"
    return f"is not a usable PEM file ({err})"
