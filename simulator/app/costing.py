"""`cost`: the cost and capacity plan of a scenario, from files or built in memory."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from simulator.app.inputs import schedule_for, workforce_for
from simulator.cost.plan import CostOptions, CostPlan, PriorRound, plan_cost, prior_central
from simulator.cost.runfile import read_run
from simulator.scenario import load_scenario
from simulator.validation import InputError

COST_COLUMNS = ("hourly_cost", "is_away", "is_stale")  # what the cost needs of a workforce


@dataclass(frozen=True)
class CostRequest:
    scenario: Path
    workforce: Path | None = None  # None: build it from the scenario
    schedule: Path | None = None  # None: build every round from the scenario
    run: Path | None = None  # a replay run directory whose measured capacity sizes servers
    run_cores: float = 1.0  # cores the system under test had in `run`
    options: CostOptions = field(default_factory=CostOptions)
    # a scenario whose rounds went into the same central mailbox before this one's (round 1
    # before the weekly series): built on the same workforce, played first
    after: Path | None = None


def cost(request: CostRequest) -> CostPlan:
    """Price the scenario's rounds and a year of them, and size the collection systems."""
    scenario = load_scenario(request.scenario)
    # A schedule built here needs the whole workforce; priced from files, three columns do.
    before = load_scenario(request.after) if request.after is not None else None
    columns = COST_COLUMNS if request.schedule is not None and before is None else None
    workforce = workforce_for(scenario, request.workforce, columns)
    schedule = schedule_for(scenario, workforce, request.schedule)
    prior: tuple[PriorRound, ...] = ()
    if before is not None:
        earlier = schedule_for(before, workforce, None)
        prior = prior_central(before, earlier)
    options = request.options
    if request.run is not None:
        measured = read_run(request.run, request.run_cores)
        options = dataclasses.replace(options, run=measured, run_label=str(request.run))
    sources = {
        "workforce": str(request.workforce or "built from the scenario"),
        "schedule": str(request.schedule or "built from the scenario"),
    }
    try:
        return plan_cost(scenario, workforce, schedule, options, sources, prior)
    except ValueError as err:
        where = str(request.schedule or request.scenario)
        raise InputError(where, "round", "(schedule rounds)", str(err)) from None


def write_cost_page(path: Path, plan: CostPlan) -> Path:
    """The planner's page: the cost and capacity section with its figures, standalone."""
    from simulator.cost.plan import cost_figures
    from simulator.report.cost_section import cost_page, figure_images

    images = figure_images(cost_figures(plan))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(cost_page(plan.document, images), encoding="utf-8")
    return path
