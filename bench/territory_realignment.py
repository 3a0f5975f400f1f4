"""Realignment preview and apply for N accounts under a changed rule set (issue 13: 1,000,000
accounts, each under 60 s).

In-process against a fresh PostgreSQL database (the use cases the API calls, without gRPC: an
apply of a million accounts is one long request, and what is measured is the service's work):

1. setup, not measured: a bank of 3 regions, every GSO province, `--branches` branches with a
   team of `--rms-per-branch` RMs each; rules v1 (one per branch, plus an affluent rule per
   province); N accounts' attributes and ~N/3 open opportunities copied in; v1 applied (every
   account assigned, history and events written);
2. v2 planned: a quarter of the branches hand their accounts to the next branch's team, and the
   affluent threshold moves;
3. measured: `PreviewModelVersion(v2)` and `ApplyModelVersion(v2)`;
4. reference, same run: a bare `INSERT ... SELECT` of as many history rows as the apply moved,
   and a COPY of as many rows, so the figures can be read against what the database alone costs.

It checks its own answer and fails on a wrong one: v1 assigns every account, the preview
evaluates every account, the apply moves what the preview said, and afterwards every account has
exactly one assignment in force, v2's for exactly the accounts it moved.

    .venv/bin/python bench/territory_realignment.py --accounts 1000000
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import Column, MetaData, Table, text, update

from crm_common.auth import Principal, use_principal
from crm_common.db import bulk_insert
from crm_common.settings import load_settings
from crm_common.testing import migrated_database
from crm_common.unit_of_work import Idempotent
from crm_common.vietnam import PROVINCES
from crm_territory.adapters.territory_tables import account_assignments, account_subjects, model_versions, open_opportunities
from crm_territory.bootstrap import bootstrap
from crm_territory.config import TerritorySettings
from crm_territory.domain.hierarchy import Dimensions, Level, NodeSpec, WealthTier
from crm_territory.domain.members import Member, Role, Team
from crm_territory.domain.rules import Conditions, OwnerStrategy, Rule
from crm_territory.service_layer.model_versions import PlanModelVersion
from crm_territory.service_layer.teams import PutTeam

AFFLUENT_V1 = 1_000_000_000
AFFLUENT_V2 = 800_000_000
_HISTORY_COLUMNS = ", ".join(c.name for c in account_assignments.columns)


def key() -> Idempotent:
    return Idempotent(str(uuid.uuid4()), "bench", "bench")


def hierarchy(branches: int) -> tuple[list[NodeSpec], list[tuple[str, str]]]:
    """Nodes, and (branch territory id, province code) per branch."""
    provinces = sorted(PROVINCES)
    regions = ["NORTH", "CENTRAL", "SOUTH"]
    nodes = [NodeSpec("VN", "", "Bank", Level.BANK)] + [NodeSpec(r, "VN", r.title(), Level.REGION) for r in regions]
    placed: list[tuple[str, str]] = []
    for i, code in enumerate(provinces):
        region = regions[i % 3]
        nodes.append(NodeSpec(f"P{code}", region, PROVINCES[code].name, Level.PROVINCE, province_code=code))
        nodes.append(NodeSpec(f"A{code}", f"P{code}", "affluent", Level.PROVINCE, dimensions=Dimensions(wealth_tier=WealthTier.AFFLUENT)))
    for b in range(branches):
        code = provinces[b % len(provinces)]
        region = regions[provinces.index(code) % 3]
        nodes.append(NodeSpec(f"B{b:05d}", f"P{code}", f"Branch {b}", Level.BRANCH, branch_id=f"BR{b:05d}"))
        placed.append((f"VN.{region}.P{code}.B{b:05d}", code))
    return nodes, placed


def rules(placed: list[tuple[str, str]], affluent_min: int, shifted: frozenset[int] = frozenset()) -> list[Rule]:
    out = []
    for code in sorted({p for _, p in placed}):
        region = next(t for t, p in placed if p == code).split(".")[1]
        out.append(
            Rule(f"AFF-{code}", 10, f"VN.{region}.P{code}.A{code}", OwnerStrategy.LEAST_LOADED,
                 Conditions(province_codes=frozenset({code}), aum_min=affluent_min), team_id=f"TA{code}")
        )  # fmt: skip
    for b in range(len(placed)):
        target = (b + 1) % len(placed) if b in shifted else b
        out.append(
            Rule(f"BR-{b:05d}", 20, placed[target][0], OwnerStrategy.LEAST_LOADED,
                 Conditions(branch_ids=frozenset({f"BR{b:05d}"})), team_id=f"T{target:05d}")
        )  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--branches", type=int, default=1_000)
    parser.add_argument("--rms-per-branch", type=int, default=5)
    args = parser.parse_args()
    random.seed(13)
    with tempfile.TemporaryDirectory() as directory, migrated_database("postgresql", "crm_territory:migrations", directory, "bench_territory") as url:
        settings = load_settings(TerritorySettings, database_url=url, crm_env="test")
        app = bootstrap(settings)
        uc = app.use_cases
        engine = app.engine
        assert engine is not None
        with use_principal(Principal("bench", ("admin",))):
            nodes, placed = hierarchy(args.branches)
            t0 = time.perf_counter()
            uc.models.plan(PlanModelVersion(key(), datetime.now(UTC).date(), nodes, [], "hierarchy"))
            for b, (territory_id, _) in enumerate(placed):
                rms = [Member(f"rm-{b:05d}-{i}", territory_id, Role.RM) for i in range(args.rms_per_branch)]
                uc.teams.put_team(PutTeam(key(), Team(f"T{b:05d}", territory_id, f"Branch {b}"), rms))
            for code in sorted({p for _, p in placed}):
                territory_id = next(f"{t.rsplit('.', 1)[0]}.A{code}" for t, p in placed if p == code)
                uc.teams.put_team(
                    PutTeam(key(), Team(f"TA{code}", territory_id, "affluent"), [Member(f"rm-a{code}-{i}", territory_id, Role.RM) for i in range(3)])
                )
            v1 = uc.models.plan(PlanModelVersion(key(), datetime.now(UTC).date(), nodes, rules(placed, AFFLUENT_V1), "v1"))[0].version
            counts = f"{len(nodes):,} territories, {args.branches * args.rms_per_branch:,} branch RMs, {len(rules(placed, AFFLUENT_V1)):,} rules"
            print(f"setup: {counts} in {time.perf_counter() - t0:.1f} s")

            t0 = time.perf_counter()
            now = datetime.now(UTC)
            with engine.begin() as conn:
                batch: list[dict[str, object]] = []
                opportunities: list[dict[str, object]] = []
                for n in range(args.accounts):
                    b = random.randrange(args.branches)
                    account_id = f"acc-{n:08d}"
                    batch.append({
                        "account_id": account_id, "province_code": placed[b][1], "branch_id": f"BR{b:05d}", "products": [],
                        "tier": "", "segment": "RETAIL", "aum": random.choice((None, 50_000_000, 900_000_000, 2_000_000_000)),
                        "language": "vi", "updated_at": now,
                    })  # fmt: skip
                    if n % 3 == 0:
                        opportunities.append({"opportunity_id": f"opp-{n:08d}", "account_id": account_id})
                    if len(batch) == 50_000:
                        bulk_insert(conn, account_subjects, batch)
                        bulk_insert(conn, open_opportunities, opportunities)
                        batch, opportunities = [], []
                bulk_insert(conn, account_subjects, batch)
                bulk_insert(conn, open_opportunities, opportunities)
                conn.execute(text("ANALYZE"))
            print(f"setup: {args.accounts:,} accounts copied in {time.perf_counter() - t0:.1f} s")
            t0 = time.perf_counter()
            first = uc.models.apply(key(), v1)[1]
            assert first.accounts_moved == args.accounts, f"v1 assigned {first.accounts_moved:,} of {args.accounts:,} accounts"
            print(f"setup: v1 applied (every account assigned from nothing): {first.accounts_moved:,} in {time.perf_counter() - t0:.1f} s")
            # Setup only: v1 took effect yesterday, so v2 may be planned for today.
            with engine.begin() as conn:
                conn.execute(update(model_versions).where(model_versions.c.version == v1).values(effective_date=now.date() - timedelta(days=1)))
                conn.execute(text("ANALYZE"))
            shifted = frozenset(random.sample(range(args.branches), args.branches // 4))
            v2 = uc.models.plan(PlanModelVersion(key(), now.date(), nodes, rules(placed, AFFLUENT_V2, shifted), "v2"))[0].version

            t0 = time.perf_counter()
            preview = uc.models.preview(v2).realignment
            preview_s = time.perf_counter() - t0
            print(
                f"preview v2: {preview.accounts_evaluated:,} accounts evaluated, {preview.accounts_moved:,} move, "
                f"{preview.opportunities_moved:,} open opportunities move, {len(preview.by_owner):,} RMs touched: {preview_s:.1f} s"
            )
            t0 = time.perf_counter()
            applied = uc.models.apply(key(), v2)[1]
            apply_s = time.perf_counter() - t0
            print(f"apply v2: {applied.accounts_moved:,} moved (history, outbox events): {apply_s:.1f} s")
            assert applied.accounts_moved == preview.accounts_moved
            assert preview.accounts_evaluated == args.accounts, f"preview evaluated {preview.accounts_evaluated:,} of {args.accounts:,}"
            with engine.connect() as conn:
                in_force = conn.execute(
                    text(
                        "SELECT count(*), count(DISTINCT account_id), count(*) FILTER (WHERE model_version = :v2)"
                        " FROM account_assignments WHERE ended_at IS NULL"
                    ),
                    {"v2": v2},
                ).one()
            assert tuple(in_force) == (args.accounts, args.accounts, applied.accounts_moved), f"in force (rows, accounts, v2's): {tuple(in_force)}"

        moved = max(applied.accounts_moved, 1)
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE ref_history AS SELECT * FROM account_assignments WITH NO DATA"))
            t0 = time.perf_counter()
            conn.execute(
                text(f"INSERT INTO ref_history ({_HISTORY_COLUMNS}) SELECT {_HISTORY_COLUMNS} FROM account_assignments LIMIT :n"),
                {"n": moved},
            )
            insert_s = time.perf_counter() - t0
            # The same rows again, as a COPY into a twin table (the cheapest bulk write there is).
            entries = [dict(r._mapping) for r in conn.execute(text("SELECT * FROM ref_history"))]
            conn.execute(text("CREATE TABLE ref_copy (LIKE account_assignments INCLUDING DEFAULTS)"))
            twin = Table("ref_copy", MetaData(), *[Column(c.name, c.type) for c in account_assignments.columns])
            t0 = time.perf_counter()
            bulk_insert(conn, twin, entries)
            copy_s = time.perf_counter() - t0
        print(f"reference: bare INSERT ... SELECT of {moved:,} history rows {insert_s:.1f} s; COPY of {moved:,} rows {copy_s:.1f} s")
        print(f"ratio: apply / (INSERT...SELECT + COPY) = {apply_s / max(insert_s + copy_s, 1e-9):.1f}; goal: preview and apply each under 60 s")
        app.close()


if __name__ == "__main__":
    main()
