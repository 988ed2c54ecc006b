"""Command-line options of the pulsecheck storms, added to Locust's own parser.

Theory of operation: Locust forwards custom options from the master to its workers with
every spawn message, so a user gives them once, on the master (or in the environment,
`PULSECHECK_*`). `read_options` checks them once, at the boundary, and returns plain
values; bad values raise `InputError` naming the option.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator.validation import InputError, finite_float

DEFAULT_OUT = "reports/locust-run"


def add_options(parser: Any) -> None:
    """Register the storm options on Locust's (configargparse) parser."""
    group = parser.add_argument_group("pulsecheck storm")
    group.add_argument(
        "--schedule", env_var="PULSECHECK_SCHEDULE", default="",
        help="schedule.parquet (columns.SCHEDULE) that drives the storm",
    )  # fmt: skip
    group.add_argument(
        "--workforce", env_var="PULSECHECK_WORKFORCE", default="",
        help="workforce.parquet the schedule's ids refer to",
    )  # fmt: skip
    group.add_argument(
        "--speedup", env_var="PULSECHECK_SPEEDUP", type=finite_float, default=1.0,
        help="compress the schedule's intended times by this factor",
    )  # fmt: skip
    group.add_argument(
        "--pulsecheck-out", env_var="PULSECHECK_OUT", default=DEFAULT_OUT,
        help="run directory the master writes (results.parquet, .hlog, replay.json)",
    )  # fmt: skip
    group.add_argument(
        "--max-events", env_var="PULSECHECK_MAX_EVENTS", type=int, default=0,
        help="send at most this many events (0: all)",
    )  # fmt: skip
    group.add_argument(
        "--max-duration", env_var="PULSECHECK_MAX_DURATION", type=finite_float, default=600.0,
        help="events due later than this many seconds after the start are dropped",
    )  # fmt: skip
    group.add_argument(
        "--start-delay", env_var="PULSECHECK_START_DELAY", type=finite_float, default=2.0,
        help="seconds between the test start and the first event (time to spawn users)",
    )  # fmt: skip
    group.add_argument(
        "--drop-after", env_var="PULSECHECK_DROP_AFTER", type=finite_float, default=10.0,
        help="an event this many seconds behind schedule is dropped, not sent",
    )  # fmt: skip
    group.add_argument(
        "--late-after-ms", env_var="PULSECHECK_LATE_AFTER_MS", type=finite_float, default=10.0,
        help="an ok event sent this many ms behind schedule counts as late",
    )  # fmt: skip
    group.add_argument(
        "--api-secret-file", env_var="PULSECHECK_API_SECRET_FILE", default="",
        help="file holding the collection systems' token secret (required by the HTTP storm; "
        "the SMTP storm logs in as each sender's agency with it)",
    )  # fmt: skip
    group.add_argument(
        "--api-path", env_var="PULSECHECK_API_PATH", default="/replies",
        help="path of the collection API's POST endpoint (HTTP storm)",
    )  # fmt: skip
    group.add_argument(
        "--request-timeout", env_var="PULSECHECK_REQUEST_TIMEOUT", type=finite_float,
        default=30.0, help="seconds to wait for each HTTP answer or SMTP reply",
    )  # fmt: skip
    group.add_argument(
        "--allow-remote", env_var="PULSECHECK_ALLOW_REMOTE", action="store_true",
        default=False, help="allow a --host that is not loopback",
    )  # fmt: skip


@dataclass(frozen=True)
class StormOptions:
    schedule: Path
    workforce: Path
    speedup: float
    out_dir: Path
    max_events: int | None
    max_duration_s: float
    start_delay_s: float
    drop_after_s: float
    late_after_ms: float
    api_secret_file: Path | None
    api_path: str
    allow_remote: bool
    timeout_s: float = 30.0


def _fail(option: str, value: object, allowed: str) -> InputError:
    return InputError("command line", option, value, allowed)


def _existing(option: str, value: str) -> Path:
    if not value:
        raise _fail(option, value, "is required (or set the matching PULSECHECK_* variable)")
    path = Path(value)
    if not path.is_file():
        raise _fail(option, value, "must name an existing file")
    return path


def _positive(option: str, value: float) -> float:
    if not value > 0:
        raise _fail(option, value, "must be a number > 0")
    return float(value)


def read_options(parsed: Any) -> StormOptions:
    """Check the storm options of a Locust `parsed_options` namespace."""
    if parsed.max_events < 0:
        raise _fail("--max-events", parsed.max_events, "must be >= 0 (0: all events)")
    if parsed.start_delay < 0:
        raise _fail("--start-delay", parsed.start_delay, "must be >= 0")
    if not str(parsed.api_path).startswith("/"):
        raise _fail("--api-path", parsed.api_path, "must start with /")
    secret = parsed.api_secret_file
    return StormOptions(
        schedule=_existing("--schedule", parsed.schedule),
        workforce=_existing("--workforce", parsed.workforce),
        speedup=_positive("--speedup", parsed.speedup),
        out_dir=Path(parsed.pulsecheck_out),
        max_events=parsed.max_events or None,
        max_duration_s=_positive("--max-duration", parsed.max_duration),
        start_delay_s=float(parsed.start_delay),
        drop_after_s=_positive("--drop-after", parsed.drop_after),
        late_after_ms=float(parsed.late_after_ms),
        api_secret_file=_existing("--api-secret-file", secret) if secret else None,
        api_path=str(parsed.api_path),
        allow_remote=bool(parsed.allow_remote),
        timeout_s=_positive("--request-timeout", parsed.request_timeout),
    )
