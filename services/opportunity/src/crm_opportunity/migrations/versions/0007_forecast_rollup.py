"""territory, forecast category and the forecast rollup

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEY = ("scope_kind", "scope_id", "product", "stage", "forecast_category", "status", "period_month", "currency")
_WHAT = "product, stage, forecast_category, status"


def upgrade() -> None:
    op.add_column("opportunities", sa.Column("territory_id", sa.String(length=100), nullable=False, server_default=""))
    op.add_column("opportunities", sa.Column("forecast_category", sa.String(length=12), nullable=False, server_default="PIPELINE"))
    op.execute("UPDATE opportunities SET forecast_category = 'CLOSED' WHERE status <> 'OPEN'")
    op.create_table(
        "forecast_rollup",
        sa.Column("scope_kind", sa.String(length=12), nullable=False),
        sa.Column("scope_id", sa.String(length=200), nullable=False),
        sa.Column("product", sa.String(length=30), nullable=False),
        sa.Column("stage", sa.String(length=50), nullable=False),
        sa.Column("forecast_category", sa.String(length=12), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("period_month", sa.String(length=7), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("opportunity_count", sa.BigInteger(), nullable=False),
        sa.Column("amount_sum", sa.BigInteger(), nullable=False),
        sa.Column("weighted_sum", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(*_KEY),
    )
    op.create_index("ix_forecast_rollup_scope_period_month", "forecast_rollup", ["scope_kind", "scope_id", "period_month"])
    # The rollup of the opportunities there are (the same sums as domain/forecast.py makes).
    moment = "CASE WHEN status = 'OPEN' THEN expected_close_at ELSE closed_at END"
    if op.get_bind().dialect.name == "postgresql":
        month = f"COALESCE(to_char({moment} AT TIME ZONE 'UTC', 'YYYY-MM'), '')"
    else:
        month = f"COALESCE(strftime('%Y-%m', {moment}), '')"
    columns = ", ".join(_KEY)
    for scope in ("owner_id", "team_id", "territory_id"):
        op.execute(
            f"INSERT INTO forecast_rollup ({columns}, opportunity_count, amount_sum, weighted_sum)"
            f" SELECT '{scope}', {scope}, {_WHAT}, {month}, currency,"
            "  count(*), sum(amount_minor), sum(amount_minor * probability_percent / 100)"
            f" FROM opportunities WHERE {scope} <> '' GROUP BY {scope}, {_WHAT}, {month}, currency"
        )


def downgrade() -> None:
    op.drop_table("forecast_rollup")
    op.drop_column("opportunities", "forecast_category")
    op.drop_column("opportunities", "territory_id")
