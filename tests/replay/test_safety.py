import pytest

from simulator.safety import check_target, is_loopback_host
from simulator.validation import InputError


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),  # all of 127.0.0.0/8
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("10.0.0.1", False),  # private range is not loopback
        ("192.168.1.1", False),
        ("8.8.8.8", False),
        ("", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_remote_target_refused_unless_allowed() -> None:
    with pytest.raises(InputError, match="--allow-remote"):
        check_target("http://10.1.2.3:80/x")
    check_target("http://10.1.2.3:80/x", allow_remote=True)
    check_target("smtp://127.0.0.1:2525")
