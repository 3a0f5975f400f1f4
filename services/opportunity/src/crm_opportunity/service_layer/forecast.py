"""The forecast, summed from the rollup kept with every change, and stage metrics (conversion
to the next stages, days in stage) from the stage history."""

from __future__ import annotations

from dataclasses import dataclass

from crm_common.auth import current_data_scope
from crm_common.errors import FieldViolation, InvalidArgument
from crm_opportunity.domain.forecast import FORECAST_CURRENCY, Figures, RollupRow, figures, month_range
from crm_opportunity.domain.model import ProductType
from crm_opportunity.service_layer import commands
from crm_opportunity.service_layer.common import Pipelines, UowFactory, scopes

SCOPE_FIELDS = ("owner_id", "team_id", "territory_id")


@dataclass(frozen=True)
class Forecast:
    total: Figures
    by_product: dict[str, Figures]
    # (product, stage) → figures
    by_stage: dict[tuple[str, str], Figures]


@dataclass(frozen=True)
class StageMetric:
    stage: str
    entered: int
    # Stays that ended by moving on (to a later stage, or won/lost).
    advanced: int
    conversion_bp: int
    average_days: float


class ForecastUseCases:
    def __init__(self, uow: UowFactory, pipelines: Pipelines) -> None:
        self.uow = uow
        self.pipelines = pipelines

    def forecast(self, cmd: commands.GetForecast) -> Forecast:
        """Sums from the rollup: the total, and lines by product and by product and stage."""
        given = scopes(cmd.owner_id, cmd.team_id, cmd.territory_id)
        months, violations = month_range(cmd.from_month, cmd.to_month)
        if len(given) != 1:
            violations += [FieldViolation(f, "exactly one of owner_id, team_id and territory_id") for f in SCOPE_FIELDS]
        if violations:
            raise InvalidArgument(violations)
        assert months is not None
        kind, scope_id = given[0]
        data_scope = current_data_scope()
        with self.uow() as uow:
            if data_scope.covers(**{kind: scope_id}):  # every opportunity of it is reached: the rollup
                rows = uow.opportunities.rollup(given[0], months, FORECAST_CURRENCY)
            else:  # only those the caller reaches, summed in the query (often none)
                rows = uow.opportunities.scoped_rollup(given[0], months, FORECAST_CURRENCY, data_scope)
        by_product: dict[str, list[RollupRow]] = {}
        by_stage: dict[tuple[str, str], list[RollupRow]] = {}
        for row in rows:
            by_product.setdefault(row.product, []).append(row)
            by_stage.setdefault((row.product, row.stage), []).append(row)
        return Forecast(
            total=figures(rows),
            by_product={product: figures(part) for product, part in sorted(by_product.items())},
            by_stage={key: figures(part) for key, part in sorted(by_stage.items())},
        )

    def stage_metrics(self, cmd: commands.GetStageMetrics) -> list[StageMetric]:
        """Conversion to the next stages and average days in stage, in the pipeline's order."""
        product = ProductType.__members__.get(cmd.product)
        violations = [] if product else [FieldViolation("product", "required" if not cmd.product else "unknown value")]
        given = scopes(cmd.owner_id, cmd.team_id, cmd.territory_id)
        if len(given) > 1:
            violations += [FieldViolation(f, "at most one of owner_id, team_id and territory_id") for f in SCOPE_FIELDS]
        if violations:
            raise InvalidArgument(violations)
        assert product is not None
        with self.uow() as uow:
            measured = {
                stage: (entered, left, days)
                for stage, entered, left, days in uow.opportunities.stage_metrics(str(product), given[0] if given else None, current_data_scope())
            }
        metrics = []
        for stage in self.pipelines[product].stages:
            entered, left, days = measured.get(stage.name, (0, 0, 0.0))
            metrics.append(StageMetric(stage.name, entered, left, left * 10_000 // entered if entered else 0, round(days, 2)))
        return metrics
