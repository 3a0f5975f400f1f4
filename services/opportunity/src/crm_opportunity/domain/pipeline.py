"""Sales pipelines: the ordered stages an opportunity of a product moves through, as data.

The defaults of a Vietnamese retail bank ship in `data/pipelines.json`; a bank replaces them
with its own file (OPPORTUNITY_PIPELINES_FILE). Each pipeline has a version: an opportunity
keeps the version it was opened under. Each stage says how likely a win is from there, which
forecast category it counts in, how many days an opportunity normally stays, and what must be
true to leave it forward (required fields, checklist items): "income documents collected"
before "submitted to LOS". Winning leaves a stage forward too: a pipeline names the stages an
opportunity may be won from (`win_from`, by default its last stage), and their exit criteria
apply. The same file holds the bank's list of reasons an opportunity is lost, each for every
product or for the ones it names.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

from crm_common.errors import FailedPrecondition, echo
from crm_opportunity.domain.model import CREDIT_PRODUCTS, LOS_DECLINED_REASON, ProductType

# Opportunity fields a stage may require before it is left.
REQUIRABLE_FIELDS = ("amount", "expected_close_at", "owner_id")
# Lost-reason codes are stored (30 characters) and sent by callers: upper-case words.
_REASON_CODE = re.compile(r"[A-Z][A-Z0-9_]{1,29}")


class ForecastCategory(StrEnum):
    PIPELINE = "PIPELINE"
    BEST_CASE = "BEST_CASE"
    COMMIT = "COMMIT"
    CLOSED = "CLOSED"


class PipelineError(ValueError):
    """A pipelines file that cannot be used, naming what is wrong."""


@dataclass(frozen=True)
class Stage:
    name: str
    # Chance of winning once here, for the weighted pipeline and forecast.
    probability_percent: int
    forecast: ForecastCategory = ForecastCategory.PIPELINE
    # How long an opportunity normally stays (next-best-action rules flag idle ones).
    norm_days: int = 7
    # What must be true to leave the stage forward.
    required_fields: tuple[str, ...] = ()
    checklist: tuple[str, ...] = ()


@dataclass(frozen=True)
class LostReason:
    code: str
    label: str
    # Losing for this reason needs the competitor's name (closed-loop win/loss analysis).
    requires_competitor: bool = False


@dataclass(frozen=True)
class Pipeline:
    product: ProductType
    version: int
    stages: tuple[Stage, ...]
    # Whether a move may jump over stages (their exit criteria still apply).
    allow_skip: bool = False
    # Why an opportunity of the product may be lost, in the bank's order.
    lost_reasons: tuple[LostReason, ...] = ()
    # The stages WinOpportunity may close it from as won; empty: the last stage.
    win_from: tuple[str, ...] = ()

    @property
    def winning_stages(self) -> tuple[str, ...]:
        return self.win_from or (self.stages[-1].name,)

    def lost_reason(self, code: str) -> LostReason | None:
        return next((r for r in self.lost_reasons if r.code == code), None)

    @property
    def first(self) -> Stage:
        return self.stages[0]

    def stage(self, name: str) -> Stage | None:
        return next((s for s in self.stages if s.name == name), None)

    def position(self, name: str) -> int:
        return next(i for i, s in enumerate(self.stages) if s.name == name)


def unmet_exit_criteria(stage: Stage, present_fields: set[str], done: set[str]) -> list[str]:
    """What keeps an opportunity from leaving `stage` forward, in the pipeline's own words."""
    missing = [f"field {name} is not set" for name in stage.required_fields if name not in present_fields]
    return missing + [f"checklist item {item} is not done" for item in stage.checklist if item not in done]


def check_move(pipeline: Pipeline, current: str, target: str, present_fields: set[str], done: set[str]) -> None:
    """FailedPrecondition, saying precisely why, for a move the pipeline does not allow.

    Backward moves are always allowed (a loan file sent back for documents). A forward move
    needs the exit criteria of every stage it leaves behind, and moves one stage at a time
    unless the pipeline allows skipping.
    """
    if pipeline.stage(target) is None:
        names = ", ".join(s.name for s in pipeline.stages)
        raise FailedPrecondition(f"{pipeline.product} pipeline v{pipeline.version} has no stage {echo(target)} (stages: {names})")
    here, there = pipeline.position(current), pipeline.position(target)
    if there == here:
        raise FailedPrecondition(f"the opportunity is already at {target}")
    if there < here:
        return
    if there > here + 1 and not pipeline.allow_skip:
        skipped = ", ".join(s.name for s in pipeline.stages[here + 1 : there])
        raise FailedPrecondition(f"cannot skip from {current} to {target}: the {pipeline.product} pipeline goes through {skipped} first")
    for left in pipeline.stages[here:there]:
        unmet = unmet_exit_criteria(left, present_fields, done)
        if unmet:
            raise FailedPrecondition(f"cannot leave {left.name} for {target}: " + "; ".join(unmet))


def check_win(pipeline: Pipeline, current: str, present_fields: set[str], done: set[str]) -> None:
    """FailedPrecondition, saying precisely why, for a win the pipeline does not allow.

    A win leaves the stage it is won from forward: that stage must be one of the pipeline's
    winning stages and its exit criteria hold. A pipeline that allows skipping may be won from an
    earlier stage, as a move would skip to the next winning stage: every exit criterion on the
    way holds. (The LOS's approval of a credit application wins it from submitted_to_los: the
    LOS decided, service_layer.los.)
    """
    winning = pipeline.winning_stages
    here = pipeline.position(current) if pipeline.stage(current) else -1
    ahead = [pipeline.position(name) for name in winning if pipeline.stage(name) and pipeline.position(name) >= here]
    if here < 0 or (current not in winning and not (pipeline.allow_skip and ahead)):
        raise FailedPrecondition(
            f"a {pipeline.product} opportunity is won from {' or '.join(winning)} (pipeline v{pipeline.version}); this one is at {current}"
        )
    for left in pipeline.stages[here : min(ahead) + 1]:
        unmet = unmet_exit_criteria(left, present_fields, done)
        if unmet:
            raise FailedPrecondition(f"cannot win from {current}: {left.name} needs " + "; ".join(unmet))


def _stage(raw: dict[str, Any], where: str) -> Stage:
    try:
        stage = Stage(
            name=str(raw["name"]),
            probability_percent=int(raw["probability"]),
            forecast=ForecastCategory(raw.get("forecast", "PIPELINE")),
            norm_days=int(raw.get("norm_days", 7)),
            required_fields=tuple(raw.get("required_fields", ())),
            checklist=tuple(raw.get("checklist", ())),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise PipelineError(f"{where}: {exc}") from None
    if not 0 <= stage.probability_percent <= 100:
        raise PipelineError(f"{where}: probability must be 0-100")
    unknown = set(stage.required_fields) - set(REQUIRABLE_FIELDS)
    if unknown:
        raise PipelineError(f"{where}: unknown required fields {sorted(unknown)} (known: {', '.join(REQUIRABLE_FIELDS)})")
    return stage


def _lost_reasons(raw: list[dict[str, Any]]) -> dict[ProductType, tuple[LostReason, ...]]:
    """Each product's lost reasons; an entry without `products` applies to every product."""
    by_product: dict[ProductType, list[LostReason]] = {product: [] for product in ProductType}
    seen: set[str] = set()
    for i, entry in enumerate(raw):
        where = f"lost_reasons[{i}]"
        try:
            reason = LostReason(str(entry["code"]), str(entry["label"]).strip(), bool(entry.get("requires_competitor", False)))
            products = [ProductType(p) for p in entry.get("products", list(ProductType))]
        except (KeyError, ValueError, TypeError) as exc:
            raise PipelineError(f"{where}: {exc}") from None
        if not _REASON_CODE.fullmatch(reason.code):
            raise PipelineError(f"{where}: code {reason.code!r} is not 2-30 upper-case letters, digits and underscores")
        if reason.code in seen:
            raise PipelineError(f"{where}: code {reason.code} repeats")
        if not reason.label:
            raise PipelineError(f"{where}: label required")
        seen.add(reason.code)
        for product in products:
            by_product[product].append(reason)
    for product, reasons in by_product.items():
        # A declining LOS loses the opportunity for this reason (service_layer.los).
        needed = {LOS_DECLINED_REASON} if product in CREDIT_PRODUCTS else set()
        missing = needed - {r.code for r in reasons}
        if not reasons or missing:
            raise PipelineError(f"lost_reasons: {product} needs {', '.join(sorted(missing)) or 'at least one reason'}")
    return {product: tuple(reasons) for product, reasons in by_product.items()}


def parse_pipelines(text: str) -> dict[ProductType, Pipeline]:
    """Every product's pipeline from the JSON text; PipelineError naming what is wrong."""
    try:
        document = json.loads(text)
        raw, raw_reasons = document["pipelines"], document["lost_reasons"]
    except (ValueError, KeyError, TypeError) as exc:
        raise PipelineError(f"not a pipelines document: {exc}") from None
    lost_reasons = _lost_reasons(raw_reasons)
    pipelines: dict[ProductType, Pipeline] = {}
    for i, entry in enumerate(raw):
        where = f"pipelines[{i}]"
        try:
            product = ProductType(entry["product"])
        except (KeyError, ValueError):
            raise PipelineError(f"{where}: unknown product {entry.get('product')!r}") from None
        stages = tuple(_stage(s, f"{where}.stages[{j}]") for j, s in enumerate(entry.get("stages", ())))
        if not 5 <= len(stages) <= 7:
            raise PipelineError(f"{where}: a pipeline has 5 to 7 stages, not {len(stages)}")
        if len({s.name for s in stages}) != len(stages):
            raise PipelineError(f"{where}: stage names repeat")
        if product in pipelines:
            raise PipelineError(f"{where}: a second pipeline for {product}")
        version, allow_skip = int(entry.get("version", 1)), bool(entry.get("allow_skip", False))
        win_from = entry.get("win_from", [])
        if not isinstance(win_from, list) or not all(isinstance(name, str) for name in win_from):
            raise PipelineError(f"{where}: win_from is a list of stage names")
        unknown = [name for name in win_from if name not in {s.name for s in stages}]
        if unknown:
            raise PipelineError(f"{where}: win_from names no stage of the pipeline: {unknown}")
        pipelines[product] = Pipeline(product, version, stages, allow_skip, lost_reasons[product], tuple(win_from))
    missing = set(ProductType) - set(pipelines)
    if missing:
        raise PipelineError(f"no pipeline for {', '.join(sorted(missing))}")
    return pipelines


def load_pipelines(path: str = "") -> dict[ProductType, Pipeline]:
    """The bank's pipelines file, or the seeded defaults."""
    if path:
        return parse_pipelines(Path(path).read_text(encoding="utf-8"))
    return parse_pipelines(resources.files("crm_opportunity").joinpath("data/pipelines.json").read_text(encoding="utf-8"))


PIPELINES = load_pipelines()


def pipeline_for(product: ProductType) -> Pipeline:
    return PIPELINES[product]
