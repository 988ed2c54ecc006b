"""The SMTP target over TLS (STARTTLS, smtps://) and with submission accounts, against
aiosmtpd on loopback with a trustme CA; mailbox-full answers and refused logins."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from simulator.replay import ReplayOptions, replay
from simulator.replay.smtp import SmtpSession
from simulator.replay.smtp_auth import SmtpAuth
from simulator.replay.targets import TargetOptions, make_target
from simulator.replay.tls import TlsOptions
from simulator.traffic.outcomes import ERROR, REJECTED, classify, settled
from simulator.validation import InputError
from tests.replay.tables import schedule, workforce
from tests.replay.test_smtp_target import free_port

PASSWORD = "Xq7-distinctive-pw-0419"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    return context


class Handler:
    """Offers PIPELINING; keeps each message with the login and TLS it came over."""

    def __init__(self, answer: str = "250 OK", pipelining: bool = True) -> None:
        self.answer = answer
        self.pipelining = pipelining
        self.received: list[tuple[str, list[str], str | None, bool]] = []
        self.mechanisms: list[str] = []

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        extra = ["250-PIPELINING"] if self.pipelining else []
        return [responses[0], *extra, *responses[1:]]

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        login = session.auth_data.login.decode() if session.auth_data else None
        tls = server.transport.get_extra_info("ssl_object") is not None
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), login, tls))
        return self.answer


class Accounts:
    """aiosmtpd authenticator: user -> password; records the mechanisms used."""

    def __init__(self, handler: Handler, users: dict[str, str]) -> None:
        self.handler, self.users = handler, users

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        self.handler.mechanisms.append(mechanism)
        ok = isinstance(data, LoginPassword) and self.users.get(data.login.decode()) == (
            data.password.decode()
        )
        return AuthResult(success=ok, handled=False, auth_data=data if ok else None)


@pytest.fixture
def serve(ca: trustme.CA) -> Iterator[Any]:
    controllers: list[Controller] = []

    def start(handler: Handler, tls: str = "starttls", **kwargs: Any) -> int:
        port = free_port()
        context = server_context(ca)
        if tls == "implicit":
            kwargs.update(ssl_context=context)
        elif tls == "starttls":
            kwargs.update(tls_context=context)
        controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
        controller.start()
        controllers.append(controller)
        return port

    yield start
    for controller in controllers:
        controller.stop()


def auth_kwargs(handler: Handler, **extra: Any) -> dict[str, Any]:
    users = {"submit": PASSWORD, "alice": "alice-pw", "bob": "bob-pw"}
    return {"authenticator": Accounts(handler, users), "auth_required": True, **extra}


def options(ca_file: Path, tls: str = "starttls", **auth: Any) -> TargetOptions:
    smtp_auth = SmtpAuth(**auth) if auth else None
    return TargetOptions(
        timeout_s=5.0, tls=TlsOptions(ca_file=ca_file), smtp_tls=tls, smtp_auth=smtp_auth
    )


def replies(n: int) -> Any:
    return schedule(["reply"] * n, gap_us=0)


async def run(url: str, opts: TargetOptions, events: Any, retries: int = 2) -> dict[str, Any]:
    target = make_target(url, opts)
    await target.preflight()
    result = await asyncio.wait_for(
        replay(events, workforce(60), target, ReplayOptions(concurrency=2, retries=retries)), 30
    )
    return dict(result.summary)


@pytest.mark.integration
async def test_starttls_auth_plain_pipelines(
    serve: Any, ca_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    carried: list[bool] = []
    deliver = SmtpSession.deliver

    async def counting(self: SmtpSession, message: Any, follow: Any = None) -> Any:
        out = await deliver(self, message, follow)
        carried.append(self.pipelining and self.ahead is not None)
        return out

    monkeypatch.setattr(SmtpSession, "deliver", counting)
    handler = Handler()
    port = serve(handler, **auth_kwargs(handler))
    secret = tmp_path / "pw"
    secret.write_text(PASSWORD + "\n")
    opts = options(ca_file, user="submit", password_file=secret)
    summary = await run(f"smtp://127.0.0.1:{port}", opts, replies(40))
    assert summary["acknowledged"] == 40 == len(handler.received)
    assert {(login, tls) for *_, login, tls in handler.received} == {("submit", True)}
    assert set(handler.mechanisms) == {"PLAIN"}
    assert sum(carried) > 20  # most messages carried the next envelope over TLS
    assert PASSWORD not in repr(opts) + repr(make_target(f"smtp://127.0.0.1:{port}", opts))


@pytest.mark.integration
async def test_auth_login_when_plain_is_not_offered(
    serve: Any, ca_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler = Handler(pipelining=False)
    port = serve(handler, **auth_kwargs(handler, auth_exclude_mechanism=["PLAIN"]))
    monkeypatch.setenv("SUBMIT_PW", PASSWORD)
    opts = options(ca_file, user="submit", password_env="SUBMIT_PW")
    summary = await run(f"smtp://127.0.0.1:{port}", opts, replies(5))
    assert summary["acknowledged"] == 5 == len(handler.received)
    assert set(handler.mechanisms) == {"LOGIN"}


@pytest.mark.integration
async def test_implicit_tls(serve: Any, ca_file: Path, tmp_path: Path) -> None:
    handler = Handler()
    port = serve(handler, tls="implicit", **auth_kwargs(handler, auth_require_tls=False))
    secret = tmp_path / "pw"
    secret.write_text(PASSWORD)
    opts = options(ca_file, tls="none", user="submit", password_file=secret)
    summary = await run(f"smtps://127.0.0.1:{port}", opts, replies(6))
    assert summary["acknowledged"] == 6
    assert all(tls and login == "submit" for *_, login, tls in handler.received)
    assert summary["target"].startswith("smtps://")


@pytest.mark.integration
async def test_refused_login_counts_as_rejected_with_reason(
    serve: Any, ca_file: Path, tmp_path: Path
) -> None:
    handler = Handler()
    port = serve(handler, **auth_kwargs(handler))
    creds = tmp_path / "senders.csv"
    # user1 logs in; user2's password is wrong; nobody else has an account
    creds.write_text("sender,user,password\nuser1@dhs.example,alice,alice-pw\n")
    creds.write_text(creds.read_text() + "user2@dhs.example,bob,wrong-pw\n")
    opts = options(ca_file, credentials=creds)
    events = schedule(["reply"] * 4, gap_us=0, sender=[1, 2, 1, 2])
    target = make_target(f"smtp://127.0.0.1:{port}", opts)
    await target.preflight()  # probes with the first sender's account, which works
    result = await asyncio.wait_for(
        replay(events, workforce(60), target, ReplayOptions(concurrency=1)), 30
    )
    outcomes = result.results.column("outcome").to_pylist()
    errors = result.results.column("error").to_pylist()
    assert [o for o, s in zip(outcomes, [1, 2, 1, 2], strict=True) if s == 2] == ["rejected"] * 2
    assert {e for e, s in zip(errors, [1, 2, 1, 2], strict=True) if s == 2} == {
        "smtp 535 at auth: 5.7.8 Authentication credentials invalid"
    }
    assert [login for *_, login, _ in handler.received] == ["alice", "alice"]


@pytest.mark.integration
async def test_per_sender_credentials_toml(serve: Any, ca_file: Path, tmp_path: Path) -> None:
    handler = Handler()
    port = serve(handler, **auth_kwargs(handler))
    creds = tmp_path / "senders.toml"
    creds.write_text(
        '"user1@dhs.example" = {user = "alice", password = "alice-pw"}\n'
        '"USER2@dhs.example" = {user = "bob", password = "bob-pw"}\n'
    )
    secret = tmp_path / "pw"
    secret.write_text(PASSWORD)
    opts = options(ca_file, credentials=creds, user="submit", password_file=secret)
    events = schedule(["reply"] * 6, gap_us=0, sender=[1, 2, 3, 1, 2, 3])
    summary = await run(f"smtp://127.0.0.1:{port}", opts, events)
    assert summary["acknowledged"] == 6
    by_sender = {mail_from: login for mail_from, _, login, _ in handler.received}
    assert by_sender == {  # user3 has no entry: the one account
        "user1@dhs.example": "alice",
        "user2@dhs.example": "bob",
        "user3@dhs.example": "submit",
    }


@pytest.mark.integration
async def test_no_starttls_is_refused_before_load(serve: Any, ca_file: Path) -> None:
    handler = Handler()
    port = serve(handler, tls="none")
    target = make_target(f"smtp://127.0.0.1:{port}", options(ca_file))
    with pytest.raises(InputError, match=r"--smtp-tls.*does not offer STARTTLS"):
        await target.preflight()
    assert handler.received == []


@pytest.mark.integration
async def test_untrusted_ca_is_refused_before_load(serve: Any, tmp_path: Path) -> None:
    handler = Handler()
    port = serve(handler)
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    target = make_target(f"smtp://127.0.0.1:{port}", options(other))
    with pytest.raises(InputError, match=r"--ca-file.*certificate verify failed"):
        await target.preflight()
    assert handler.received == []


@pytest.mark.integration
async def test_no_usable_mechanism_is_refused_before_load(
    serve: Any, ca_file: Path, tmp_path: Path
) -> None:
    handler = Handler()
    port = serve(handler, **auth_kwargs(handler, auth_exclude_mechanism=["PLAIN", "LOGIN"]))
    secret = tmp_path / "pw"
    secret.write_text(PASSWORD)
    target = make_target(
        f"smtp://127.0.0.1:{port}", options(ca_file, user="submit", password_file=secret)
    )
    with pytest.raises(InputError, match=r"--smtp-user.*no AUTH PLAIN or LOGIN"):
        await target.preflight()


@pytest.mark.integration
async def test_wrong_password_is_refused_before_load(
    serve: Any, ca_file: Path, tmp_path: Path
) -> None:
    handler = Handler()
    port = serve(handler, **auth_kwargs(handler))
    secret = tmp_path / "pw"
    secret.write_text("not-" + PASSWORD)
    target = make_target(
        f"smtp://127.0.0.1:{port}", options(ca_file, user="submit", password_file=secret)
    )
    with pytest.raises(InputError, match=r"--smtp-user.*login refused: smtp 535") as err:
        await target.preflight()
    assert PASSWORD not in str(err.value)


@pytest.mark.integration
async def test_mailbox_full_is_rejected_and_temporary_full_after_retries(serve: Any) -> None:
    full = Handler(answer="552 5.2.2 <user1@dhs.example>: mailbox full", pipelining=False)
    port = serve(full, tls="none")
    summary = await run(f"smtp://127.0.0.1:{port}", TargetOptions(timeout_s=5.0), replies(2))
    assert summary["outcomes"]["rejected"] == 2
    quota = Handler(answer="452 4.2.2 Mailbox over quota, try later")
    port = serve(quota, tls="none")
    target = make_target(f"smtp://127.0.0.1:{port}", TargetOptions(timeout_s=5.0))
    result = await asyncio.wait_for(
        replay(replies(2), workforce(60), target, ReplayOptions(concurrency=1, retries=1)), 30
    )
    assert len(quota.received) == 4  # each message tried twice
    assert result.results.column("outcome").to_pylist() == ["rejected", "rejected"]
    assert set(result.results.column("error").to_pylist()) == {"mailbox full"}


@pytest.mark.parametrize(
    ("code", "text", "what", "outcome", "reason"),
    [
        (552, b"5.2.2 Mailbox full", "RCPT", REJECTED, "mailbox full"),
        (552, b"Quota exceeded", "end of data", REJECTED, "mailbox full"),
        (552, b"5.3.4 Message too big", "end of data", REJECTED, "smtp 552 at end of data"),
        (452, b"4.2.2 Mailbox full", "RCPT", ERROR, "mailbox full"),
        (452, b"4.5.3 Too many recipients", "RCPT", ERROR, "smtp 452 at RCPT"),
        (550, b"5.2.2 mailbox full", "RCPT", ERROR, "smtp 550 at RCPT"),  # not 552/452
        (535, b"5.7.8  bad\n login", "auth", REJECTED, "smtp 535 at auth: 5.7.8 bad login"),
        (454, b"4.7.0 try later", "auth", ERROR, "smtp 454 at auth: 4.7.0 try later"),
    ],
)
def test_classify_reads_the_reply_text(
    code: int, text: bytes, what: str, outcome: int, reason: str
) -> None:
    out = classify(code, 10, what, text)
    assert (out.outcome, out.error) == (outcome, reason)
    assert (out.retry_after is not None) == (code < 500)


def test_a_full_mailbox_is_refused_when_retries_run_out() -> None:
    assert settled(classify(452, 0, "RCPT", b"4.2.2 mailbox full")).outcome == REJECTED
    assert settled(classify(451, 0, "RCPT", b"4.3.0 later")).outcome == ERROR
