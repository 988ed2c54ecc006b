"""What the reference mailbox did with a replayed storm: deliveries offered and answered.

Theory of operation: pure functions over the replay's results (`columns.RESULTS`) and the
storm's event table (`columns.SCHEDULE`). Each event carries its fan-out (`rcpt_count`);
a delivery is offered at the event's intended time and answered when the mailbox
replied to its transaction (stored or refused). The backlog at a moment is what was
offered and not yet answered: the queue forming in front of the real server, in the same
units as the model's MTA backlog.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class DeliveryCurves:
    t_s: F64  # end of each bin, replay seconds
    offered_per_s: F64  # deliveries whose transaction was due in the bin, per second
    answered_per_s: F64  # deliveries whose transaction got its answer in the bin
    backlog: F64  # deliveries offered and not yet answered, at the end of each bin

    @property
    def peak_backlog(self) -> float:
        return float(self.backlog.max(initial=0.0))

    def drain_s(self) -> float:
        """Seconds from the peak backlog until nothing was waiting (to the end if never)."""
        if self.backlog.size == 0:
            return 0.0
        peak = int(np.argmax(self.backlog))
        empty = np.nonzero(self.backlog[peak:] <= 0.5)[0]
        end = self.t_s[peak + empty[0]] if empty.size else self.t_s[-1]
        return float(end - self.t_s[peak])


def delivery_curves(results: pa.Table, events: pa.Table, max_bins: int = 2_000) -> DeliveryCurves:
    """Offered vs answered deliveries over replay time, and the backlog between them.

    Bins are 20 ms wide, or wider when the replay spans more than `max_bins` of them.
    """
    fan = events.column("rcpt_count").to_numpy().astype(np.float64)
    ids = results.column("event_id").to_numpy()
    weight = fan[ids]
    due = results.column("t_intended").to_numpy() / 1e6
    done_us = results.column("t_done").to_numpy()
    answered = done_us >= 0
    done = done_us[answered] / 1e6
    end = float(max(due.max(initial=0.0), done.max(initial=0.0))) or 1.0
    bins = int(min(max_bins, max(1, np.ceil(end / 0.02))))
    edges = np.linspace(0.0, end * (1 + 1e-9), bins + 1)
    width = edges[1] - edges[0]
    offered, _ = np.histogram(due, edges, weights=weight)
    got, _ = np.histogram(done, edges, weights=weight[answered])
    return DeliveryCurves(
        t_s=edges[1:],
        offered_per_s=offered / width,
        answered_per_s=got / width,
        backlog=np.cumsum(offered) - np.cumsum(got),
    )
