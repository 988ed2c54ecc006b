"""Reference collection systems: the HTTP collection API, the SMTP mailbox, the durable store.

Public entry points (see README.md for the store schema and the API):
`running_api`, `running_mailbox` (in-process, async context managers), `ServerSpec` and
`ServerProcess` (child process), `mint_token`, `Directory`, `Collection`,
`default_collections`, `Policy`.
"""

from simulator.collect.auth import mint_token
from simulator.collect.collections import Collection, default_collections
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
    "Collection",
    "Directory",
    "Policy",
    "Running",
    "ServerProcess",
    "ServerSpec",
    "default_collections",
    "mint_token",
    "running_api",
    "running_mailbox",
]
