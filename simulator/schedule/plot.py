"""Draw an arrival curve as a PNG: replies per hour, with the deadline's last day shaded.

Theory of operation: the only disk writer of the summary; it uses matplotlib's Agg
backend so it runs without a display.
"""

from __future__ import annotations

from pathlib import Path

from simulator.schedule.summary import ArrivalCurve


def plot_curves(curves: list[ArrivalCurve], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(curves), 1, figsize=(10, 3.2 * len(curves)), squeeze=False)
    for ax, curve in zip(axes[:, 0], curves, strict=True):
        hours = range(len(curve.per_hour))
        ax.bar(hours, curve.per_hour, width=1.0, color="#2b6cb0")
        n = len(curve.per_hour)
        ax.axvspan(max(n - 24, 0), n, color="#f6ad55", alpha=0.25, label="last 24 h")
        ax.set_title(
            f"{curve.round}: {curve.replies:,} replies, peak {curve.peak_count:,}/h at "
            f"hour {curve.peak_hour}, {curve.share_last_24h:.0%} in the last 24 h"
        )
        ax.set_xlabel(f"hours since {curve.send_time:%a %d %b %H:%M %Z}")
        ax.set_ylabel("replies per hour")
        ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
