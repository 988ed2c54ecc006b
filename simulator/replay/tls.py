"""TLS for the replay's clients: one client context from a CA file and a client certificate.

Theory of operation: every TLS-speaking client (the lean HTTP client and aiohttp for
https://, the SMTP client for smtps:// and STARTTLS) takes its `ssl.SSLContext` from
`TlsOptions.context()`, so verification is configured in one place: the system's trust
store unless a CA file is given, hostname checking against `server_name` (default: the
target's host name, which is also sent as SNI), and an optional client certificate for
mutual TLS. Verification is never switched off.

Before any load is sent, a TLS target opens one probe connection (`probe`, called by the
targets' `preflight`): the handshake checks the server's certificate and name, then one
harmless request (`OPTIONS *` for HTTP) is sent and the first answer read, because under
TLS 1.3 a server refuses a client certificate only after the client's side of the
handshake has finished: with an alert (OpenSSL servers) or by closing the connection
unanswered (asyncio's). A TLS failure becomes an `InputError` naming the option to blame
(`--ca-file` for an unknown issuer, `--target` or `--tls-server-name` for a wrong name,
`--client-cert` for a refused or missing client certificate) and OpenSSL's reason. A
server that cannot be reached, or stays silent, is left to the replay, which counts its
errors per event.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from pathlib import Path

from simulator.safety import CheckedHost, create_connection
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


HOSTNAME_MISMATCH = (62, 64)  # X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH


def handshake_error(err: ssl.SSLError, tls: TlsOptions, url: str) -> InputError:
    """A failed handshake with `url` as the option it blames, with OpenSSL's reason."""
    if isinstance(err, ssl.SSLCertVerificationError):
        why = f"TLS handshake with {url} failed: certificate verify failed: {err.verify_message}"
        if err.verify_code in HOSTNAME_MISMATCH:
            if tls.server_name is not None:
                return InputError("command line", "--tls-server-name", tls.server_name, why)
            return InputError("command line", "--target", url, why)
        ca = "the system trust store" if tls.ca_file is None else str(tls.ca_file)
        return InputError("command line", "--ca-file", ca, why)
    reason = str(err.reason or err)
    why = f"TLS handshake with {url} failed: {reason}"
    if "CERTIFICATE" in reason.upper():  # the server's alert about the client's certificate
        return client_cert_error(tls, why)
    return InputError("command line", "--target", url, why)


def client_cert_error(tls: TlsOptions, why: str) -> InputError:
    """The server refused the client certificate, or wanted one and got none."""
    if tls.cert_file is None:
        return InputError("command line", "--client-cert", "(none given)", why)
    return InputError("command line", "--client-cert", str(tls.cert_file), why)


async def probe(
    checked: CheckedHost,
    port: int,
    tls: TlsOptions,
    context: ssl.SSLContext,
    url: str,
    hello: bytes = b"",
    timeout_s: float = 30.0,
) -> None:
    """One TLS connection to the checked address: handshake, send `hello`, read the first
    answer. A TLS failure, or a connection closed unanswered after the handshake, is an
    InputError; a connection refused or a server that stays silent is not (the replay
    reports those per event)."""
    reader = asyncio.StreamReader()
    answer = b"-"
    try:
        async with asyncio.timeout(timeout_s):
            transport, _ = await create_connection(
                lambda: asyncio.StreamReaderProtocol(reader),
                checked,
                port,
                context,
                tls.sni(checked.host),
            )
            try:
                if hello:
                    transport.write(hello)  # type: ignore[attr-defined]
                answer = await reader.read(1)
            except ConnectionError:
                answer = b""  # reset after the handshake: the same as closed unanswered
            finally:
                transport.close()
    except ssl.SSLError as err:
        raise handshake_error(err, tls, url) from None
    except (OSError, TimeoutError):
        return
    if not answer:
        why = (
            f"the TLS handshake with {url} succeeded but the server closed the connection "
            "without answering: it wants a client certificate, or refused this one"
        )
        raise client_cert_error(tls, why)


def _why(err: Exception) -> str:
    if isinstance(err, OSError) and err.strerror:
        return f"cannot be read ({err.strerror})"
    return f"is not a usable PEM file ({err})"
