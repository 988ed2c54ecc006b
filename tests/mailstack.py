"""A real mail stack (Postfix -> LMTP -> Dovecot Maildir) for integration tests.

`mailstack_factory(quota=..., users=...)` starts a `MailStack` in a fresh directory with
a server certificate from a `trustme` CA (its `ca_file` is what clients trust) and stops
it and removes the directory after the test; `mailstack` is one with the defaults (the
default collections' mailboxes, a 10M quota). Both skip, naming what is missing, when
Postfix or Dovecot cannot run here (not root, a Debian package not installed: see
tests/setup.sh). tests/conftest.py makes both available to every test.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from simulator.collect.mailstack import MailStack, unavailable

StackFactory = Callable[..., MailStack]


def tls_files(directory: Path) -> tuple[Path, Path, Path]:
    """A trustme CA and a server certificate for 127.0.0.1 and localhost, as files."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost", "mx.mailstack.test")
    paths = (directory / "ca.pem", directory / "cert.pem", directory / "key.pem")
    ca.cert_pem.write_to_path(str(paths[0]))
    server.cert_chain_pems[0].write_to_path(str(paths[1]))
    server.private_key_pem.write_to_path(str(paths[2]))
    paths[2].chmod(0o600)
    return paths


@pytest.fixture
def mailstack_factory() -> Iterator[StackFactory]:
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    started: list[tuple[MailStack, Path]] = []

    def start(**options: Any) -> MailStack:
        # Not under pytest's tmp_path: its parents are private to root, and postfix,
        # dovecot and the mail user must reach their parts of the directory.
        root = Path(tempfile.mkdtemp(prefix="pulsecheck-mailstack-"))
        root.chmod(0o755)
        stack = MailStack(root / "stack", tls=tls_files(root / "tls"), **options)
        started.append((stack, root))
        return stack.start()

    try:
        yield start
    finally:
        for stack, root in started:
            stack.stop()
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def mailstack(mailstack_factory: StackFactory) -> MailStack:
    return mailstack_factory()
