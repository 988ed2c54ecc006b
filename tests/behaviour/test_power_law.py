"""Barabási's power-law reply delays: the tail exponent, determinism, the choice of model
in a scenario, bad choices refused, and the fit table beside Kooti et al.'s figures."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from simulator.behaviour.params import Timing
from simulator.behaviour.timing import delay_fit, measured_delays, sample_delays
from simulator.cli import main
from simulator.parameters import TIMING_MODEL, TIMING_MODELS
from simulator.schedule.build import build_schedule
from tests.schedule.fixtures import ROUND1, make_workforce, scenario

ROOT = Path(__file__).resolve().parents[2]
POWER = Timing.from_behaviour({TIMING_MODEL: float(TIMING_MODELS.index("power-law"))})


def fitted_exponent(delays: np.ndarray, lo: float, hi: float) -> float:
    """-slope of log density on log delay over log-spaced bins (least squares)."""
    edges = np.exp(np.linspace(np.log(lo), np.log(hi), 21))
    counts, _ = np.histogram(delays, bins=edges)
    mids = np.sqrt(edges[1:] * edges[:-1])
    slope, _ = np.polyfit(np.log(mids), np.log(counts / np.diff(edges)), 1)
    return float(-slope)


@pytest.mark.parametrize("alpha", [1.0, 1.5])
def test_tail_exponent_fitted_on_samples_is_alpha(alpha: float) -> None:
    # Four decades between the fastest wait and the cutoff; fit well inside them.
    wide = dataclasses.replace(
        POWER, power_alpha=alpha, power_fast_min=0.1, power_cutoff_h=10_000.0, power_step_min=0.0
    )
    delays = sample_delays(np.random.default_rng(7), 1_000_000, wide)
    assert abs(fitted_exponent(delays, 10.0, 10_000.0) - alpha) < 0.05


def test_cutoff_ends_the_power_law() -> None:
    delays = sample_delays(np.random.default_rng(8), 1_000_000, POWER)
    cutoff = POWER.power_cutoff_h * 60.0
    assert fitted_exponent(delays, 60.0, 1440.0) < 1.3  # about alpha = 1 below the cutoff
    # Beyond the cutoff the survival falls exponentially: few of those past it reach 4x.
    assert np.mean(delays > 4 * cutoff) < 0.05 * np.mean(delays > cutoff)
    uncut = sample_delays(
        np.random.default_rng(8),
        1_000_000,
        dataclasses.replace(POWER, power_cutoff_h=POWER.power_cutoff_h * 100),
    )
    assert np.mean(uncut > 4 * cutoff) > 0.5 * np.mean(uncut > cutoff)  # a power law does not
    assert delays.min() >= POWER.power_step_min


def test_defaults_match_kooti() -> None:
    delays = sample_delays(np.random.default_rng(9), 1_000_000, POWER)
    counts, edges = np.histogram(delays, bins=np.arange(0.0, 30.0, 0.25))
    assert 1.5 <= edges[np.argmax(counts)] + 0.125 <= 2.75  # most common delay about 2 min
    assert 42 <= np.median(delays) <= 52  # half within about 47 minutes
    assert 0.86 <= np.mean(delays <= 1440) <= 0.94  # about 90% within a day


def test_same_seed_same_delays_other_seed_other() -> None:
    a, b, c = (sample_delays(np.random.default_rng(s), 10_000, POWER) for s in (3, 3, 4))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def reply_minutes(table: pa.Table) -> np.ndarray:
    kind = pc.cast(table.column("kind"), pa.string()).to_numpy(zero_copy_only=False)
    t = table.column("t_intended").cast(pa.int64()).to_numpy()
    return (t[kind == "reply"] - t[kind == "broadcast"].min()) / 60e6  # type: ignore[no-any-return]


def test_scenario_selects_the_model_and_its_parameters_apply() -> None:
    # A one-hour least delay only the power-law model has: replies then start an hour on.
    wf = make_workforce([("DEPT", "DEPT-A", 3000)])
    step = "[behaviour.timing]\npower_step_min = 60\n"
    power = scenario(ROUND1, behaviour=f'timing_model = "power-law"\n{step}')
    mixture = scenario(ROUND1, behaviour=f'timing_model = "lognormal-mixture"\n{step}')
    default = scenario(ROUND1, behaviour=step)
    assert Timing.from_behaviour(power.behaviour).model == "power-law"
    assert Timing.from_behaviour(default.behaviour).model == "lognormal-mixture"
    t_power = reply_minutes(build_schedule(power, wf, 5))
    t_mixture = reply_minutes(build_schedule(mixture, wf, 5))
    assert len(t_power) > 1000 and len(t_mixture) > 1000
    assert t_power.min() >= 60.0  # sent Saturday: an active minute is at most a minute
    assert np.mean(t_mixture < 60.0) > 0.1
    assert build_schedule(default, wf, 5).equals(build_schedule(mixture, wf, 5))
    assert build_schedule(power, wf, 5).equals(build_schedule(power, wf, 5))


def round1_with(tmp_path: Path, behaviour: str) -> Path:
    text = (ROOT / "scenarios" / "opm-round1.toml").read_text()
    assert "[behaviour]" not in text
    path = tmp_path / "round1.toml"
    path.write_text(f"{text}\n[behaviour]\n{behaviour}\n")
    return path


@pytest.mark.parametrize(
    ("behaviour", "expected"),
    [
        ('timing_model = "pareto"', "must be one of: lognormal-mixture, power-law"),
        ("timing_model = 1", "must be a string"),
        ("timing.power_alpha = 0.1", "timing.power_alpha"),
        ("[behaviour.timing]\npower_cutoff_h = -1", "timing.power_cutoff_h"),
    ],
)
def test_bad_timing_choice_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], behaviour: str, expected: str
) -> None:
    path = round1_with(tmp_path, behaviour)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and expected in err, err
    assert "behaviour" in err


def test_fit_table_puts_both_models_beside_kooti(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = round1_with(tmp_path, 'timing_model = "power-law"')
    assert main(["validate", "--timing-fit", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("ok: ")
    assert all(len(line) <= 80 for line in out[1:])
    header = next(line for line in out if line.startswith("figure"))
    assert header.split()[1:] == ["Kooti", "et", "al.", "lognormal-mixture", "power-law*"]
    rows = {line[:28].strip(): line[28:].split() for line in out if line[:28].strip()}
    kooti = measured_delays()
    mode, median, within = (
        rows[k] for k in ("most common delay (min)", "median delay (min)", "share within a day")
    )
    assert float(mode[0]) == kooti.mode_min and float(median[0]) == kooti.median_min
    for column in (1, 2):  # each model within a few percent of each figure
        assert abs(float(mode[column]) - kooti.mode_min) <= 0.25
        assert abs(float(median[column]) - kooti.median_min) <= 1.5
        assert abs(float(within[column].rstrip("%")) / 100 - kooti.within_day) <= 0.01
    fits = delay_fit(n=200_000)
    assert set(fits) == set(TIMING_MODELS)
    assert rows["density slope, 1 h to 1 day"][0] == "-"
