"""Sales pipelines: the ordered stages an opportunity of a product moves through.

Only the entry stage is seeded for now, the same for every product; the 5-7 stage pipelines
per product come with stage moves.
"""

from __future__ import annotations

from dataclasses import dataclass

from crm_opportunity.domain.model import Product


@dataclass(frozen=True)
class Stage:
    name: str
    # Chance of winning once here, for the weighted pipeline and forecast.
    probability_percent: int


@dataclass(frozen=True)
class Pipeline:
    product: Product
    stages: tuple[Stage, ...]

    @property
    def first(self) -> Stage:
        return self.stages[0]


DEFAULT_STAGES = (Stage("qualification", 10),)

PIPELINES = {product: Pipeline(product, DEFAULT_STAGES) for product in Product}


def pipeline_for(product: Product) -> Pipeline:
    return PIPELINES[product]
