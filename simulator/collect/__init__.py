"""Reference collection systems: the HTTP collection API, the SMTP mailbox, the durable store.

Public entry points (see README.md for the store schema and the API):
`running_api`, `running_mailbox` (in-process, async context managers), `ServerSpec` and
`ServerProcess` (child process), `Directory`, `Policy`. Tokens live in `simulator.tokens`,
collections in `simulator.collections`. `simulator.collect.mailstack` runs a real mail
stack instead (Debian's Postfix and Dovecot on loopback, `pulsecheck mailstack`).
"""

from simulator.collect.directory import Directory
from simulator.collect.policy import Policy
from simulator.collect.servers import (
    Running,
    ServerProcess,
    ServerSpec,
    running_api,
    running_mailbox,
)

__all__ = [
    "Directory",
    "Policy",
    "Running",
    "ServerProcess",
    "ServerSpec",
    "running_api",
    "running_mailbox",
]
