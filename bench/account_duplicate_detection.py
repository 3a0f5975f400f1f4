"""Duplicate detection for a new customer against a large customer base, through gRPC.

Starts `crm-account api` on a fresh PostgreSQL database, loads N existing person accounts
(each with a phone, an email, a date of birth, and for a third a CCCD; PII encrypted with the
dev keys, blind indexes computed) with COPY (setup, not measured), then times FindDuplicates
for new customers, one call at a time: a third share a phone with an existing customer, a
third share name and date of birth, a third match nobody. Each call is followed by the reference
measured in the same run (`reference_read.py`: a bare gRPC server verifying the JWT and running
the one statement that reads the candidates by the same blind indexes), and the ratio of their
p99s is printed.

It checks its own answer and fails on a wrong one: the planted customer must come back as THE
top candidate (by phone: that account; by name and birthday: that account or a true namesake
born the same day, which the load can produce), and a new customer must find no candidate.
The load runs as a bank's migration would: accounts first, committed and analysed, then their
contact points, whose foreign-key checks then plan on the primary key (loaded in one
transaction with no statistics, each check used another index: ~7 hours at 1,000,000).

    .venv/bin/python bench/account_duplicate_detection.py --accounts 1000000 --queries 1000
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import grpc
import psycopg
import reference_read  # bench/, beside this script
from sqlalchemy import String

from crm.account.v1 import account_pb2, account_service_pb2, account_service_pb2_grpc
from crm.common.v1 import common_pb2
from crm_account.adapters.orm import ACCOUNTS_PII, accounts
from crm_account.domain.duplicates import name_dob_key
from crm_common.contact import fold
from crm_common.devstack import ServiceSpec, Stack, free_port
from crm_common.pii import DEV_PII_INDEX_KEY, DEV_PII_KEYS, PiiCodec
from crm_common.testing import bearer, postgres_database, rabbitmq_vhost

FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý"]
MIDDLE = ["Văn", "Thị", "Minh", "Hữu", "Đức", "Thanh", "Ngọc", "Quốc", "Thu", "Hoàng", "Gia", "Bảo"]
GIVEN = ["An", "Anh", "Bình", "Châu", "Dũng", "Giang", "Hà", "Hải", "Hạnh", "Hiếu", "Hoa", "Hùng", "Huy", "Khánh", "Lan", "Linh", "Long"]
GIVEN += ["Mai", "Minh", "Nam", "Nga", "Ngọc", "Phong", "Phúc", "Quân", "Quang", "Sơn", "Tâm", "Thảo", "Trang", "Tú", "Tuấn", "Vy", "Yến"]
# The reference's statement: the live accounts sharing a contact point's or the name + birthday's
# blind index, with their contact points (AccountRepository.candidates_for and its load).
CANDIDATES_SQL = """SELECT a.account_id, a.full_name_enc, a.date_of_birth, a.national_id_enc,
  (SELECT array_agg(p.value_enc) FROM account_contact_points p WHERE p.account_id = a.account_id) AS points
FROM accounts a WHERE a.merged_into = '' AND a.account_id IN (
  (SELECT account_id FROM account_contact_points WHERE value_bidx = ANY(%(contacts)s) LIMIT 50)
  UNION (SELECT account_id FROM accounts WHERE name_dob_bidx = %(name_dob)s LIMIT 50)
) LIMIT 50"""
PREFIXES = ["090", "091", "093", "094", "096", "097", "098", "086", "088", "032", "033", "034", "035", "036", "037", "038", "039", "070"]


def person(n: int, rng: random.Random) -> tuple[str, date, str, str, str]:
    name = f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"
    born = date(1950, 1, 1) + timedelta(days=rng.randrange(55 * 365))
    phone = f"+84{PREFIXES[n % len(PREFIXES)][1:]}{n:07d}"
    email = f"kh{n}@example.vn"
    cccd = (
        f"0{rng.choice(['01', '79', '48', '31', '92'])}{(born.year // 100 - 19) * 2 + rng.randrange(2)}{born.year % 100:02d}{n % 1_000_000:06d}"
        if n % 3 == 0
        else ""
    )
    return name, born, phone, email, cccd


Person = tuple[str, date, str, str, str, str]  # name, born, phone, email, cccd, account_id


def load_accounts(url: str, count: int) -> list[Person]:
    """COPY as the service would store them (AccountRepository._row): name and PII encrypted
    with the dev keys, blind indexes and name tokens computed."""
    codec = PiiCodec.from_settings(DEV_PII_KEYS, DEV_PII_INDEX_KEY)
    rng = random.Random(42)
    people: list[Person] = []
    now = datetime.now(UTC)
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    points = []
    with psycopg.connect(dsn) as conn:
        conn.execute("DROP INDEX ix_accounts_name_tokens")  # rebuilt after the load: much faster than row by row
        # Every text column empty and every count zero unless set below.
        defaults: dict[str, object] = {c.name: "" for c in accounts.columns if isinstance(c.type, String) and not c.nullable}
        defaults |= {"national_id_legacy": False, "version": 1, "total_deposits": 0, "total_loans": 0, "total_aum": 0, "open_holdings": 0}
        defaults |= {"account_type": "PERSON", "lifecycle_stage": "ACTIVE", "preferred_language": "vi", "best_contact_times": "[]"}
        defaults |= {"derived_tier": "MASS", "kyc_status": "NOT_STARTED", "created_by": "bench", "updated_by": "bench"}
        defaults |= {"legal_hold": False}
        columns = [c.name for c in accounts.columns if c.name in defaults or c.name in ("date_of_birth", "created_at", "updated_at")]
        with conn.cursor() as cur, cur.copy(f"COPY accounts ({', '.join(columns)}) FROM STDIN") as copy_accounts:
            for n in range(count):
                name, born, phone, email, cccd = person(n, rng)
                account_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                people.append((name, born, phone, email, cccd, account_id))
                row = defaults | {
                    "account_id": account_id,
                    "full_name_enc": codec.encrypt(ACCOUNTS_PII.context("full_name_enc", account_id), name),
                    "name_tokens": codec.search_tokens("name", fold(name)),
                    "gender": "FEMALE" if " Thị " in name else "MALE",
                    "date_of_birth": born,
                    "national_id_enc": codec.encrypt(f"national_id:{account_id}", cccd),
                    "national_id_bidx": codec.index("national_id", cccd),
                    "created_at": now,
                    "updated_at": now,
                    "name_dob_bidx": codec.index("name_dob", name_dob_key(name, born)),
                }
                copy_accounts.write_row([row[c] for c in columns])
                points.append((account_id, "phone", 0, codec.encrypt(f"phone:{account_id}", phone), codec.index("phone", phone)))
                points.append((account_id, "email", 0, codec.encrypt(f"email:{account_id}", email), codec.index("email", email)))
        conn.commit()
        # Statistics before the next step: the contact points' foreign-key checks plan on them.
        conn.execute("ANALYZE accounts")
        conn.commit()
        statement = "COPY account_contact_points (account_id, kind, position, value_enc, value_bidx) FROM STDIN"
        with conn.cursor() as cur, cur.copy(statement) as copy_points:
            for point in points:
                copy_points.write_row(point)
        conn.execute("CREATE INDEX ix_accounts_name_tokens ON accounts USING gin (string_to_array(name_tokens, ' '))")
        conn.execute("ANALYZE")
    return people


Probe = tuple[account_pb2.AccountInput, set[str], dict[str, object]]


def probes(people: list[Person], queries: int) -> list[Probe]:
    """New customers, each with the accounts that may rightly come back as its top candidate and
    the reference's parameters (the blind indexes of its contact points and name + birthday)."""
    codec = PiiCodec.from_settings(DEV_PII_KEYS, DEV_PII_INDEX_KEY)
    rng = random.Random(7)
    namesakes: dict[tuple[str, date], set[str]] = {}
    for name, born, *_, account_id in people:
        namesakes.setdefault((name, born), set()).add(account_id)
    made: list[tuple[account_pb2.AccountInput, set[str]]] = []
    for q in range(queries):
        name, born, phone, _email, _cccd, account_id = people[rng.randrange(len(people))]
        dob = common_pb2.Date(year=born.year, month=born.month, day=born.day)
        if q % 3 == 0:  # the same customer again, by phone, name without diacritics
            made.append((account_pb2.AccountInput(full_name=fold(name).title(), phones=[phone], date_of_birth=dob), {account_id}))
        elif q % 3 == 1:  # same name and birthday, new contact points
            made.append((account_pb2.AccountInput(full_name=name, phones=[f"+8470{q:07d}"], date_of_birth=dob), namesakes[(name, born)]))
        else:  # nobody
            made.append((account_pb2.AccountInput(full_name="Khách Mới Tinh", phones=[f"+8479{q:07d}"], emails=[f"moi{q}@example.vn"]), set()))
    return [(probe, rightful, reference_params(codec, probe)) for probe, rightful in made]


def reference_params(codec: PiiCodec, probe: account_pb2.AccountInput) -> dict[str, object]:
    contacts = [codec.index("phone", phone) for phone in probe.phones] + [codec.index("email", email) for email in probe.emails]
    name_dob = None
    if probe.HasField("date_of_birth"):
        born = date(probe.date_of_birth.year, probe.date_of_birth.month, probe.date_of_birth.day)
        name_dob = codec.index("name_dob", name_dob_key(probe.full_name, born))
    return {"contacts": contacts, "name_dob": name_dob}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=1000)
    args = parser.parse_args()
    exe = str(Path(sys.executable).with_name("crm-account"))
    with postgres_database("bench_dedupe") as url, rabbitmq_vhost("bench") as amqp_uri:
        spec = ServiceSpec("account", free_port(), free_port(), free_port(), free_port(), url, env={"LOG_LEVEL": "WARNING", "RELAY_IN_API": "true"})
        stack = Stack([spec], amqp_uri, Path("var/bench"))
        subprocess.run([exe, "migrate"], env=spec.environment(amqp_uri, {}), check=True, capture_output=True)
        setup = time.perf_counter()
        people = load_accounts(url, args.accounts)
        print(f"account_duplicate_detection: {args.accounts:,} accounts loaded in {time.perf_counter() - setup:.0f} s (setup)")
        stack.run_dir.mkdir(parents=True, exist_ok=True)
        stack.start_process(spec, "api")
        try:
            stack.wait_healthy(spec, 30)
            channel = grpc.insecure_channel(spec.target)
            stub = account_service_pb2_grpc.AccountServiceStub(channel)
            metadata = bearer("steward-bench", ["data_steward"])  # bank-wide: an RM sees only the accounts it owns
            made = probes(people, args.queries)
            with reference_read.started(url, CANDIDATES_SQL) as reference:
                for probe, _, params in made[:20]:  # warm-up: connections, plans, caches
                    stub.FindDuplicates(account_service_pb2.FindDuplicatesRequest(account=probe), metadata=metadata)
                    reference(params)
                found = [0, 0, 0]

                def find(q: int) -> None:
                    probe, rightful, _ = made[q]
                    reply = stub.FindDuplicates(account_service_pb2.FindDuplicatesRequest(account=probe), metadata=metadata, timeout=10)
                    top = reply.candidates[0].other_id if reply.candidates else None
                    if rightful:
                        expected = f"expected one of {sorted(rightful)} ({len(reply.candidates)} candidates)"
                        assert top in rightful, f"probe {q}: top candidate {top}, {expected}"
                    else:
                        assert top is None, f"probe {q}: a new customer matched {top}"
                    found[q % 3] += top is not None

                def read(q: int) -> None:
                    _, rightful, params = made[q]
                    ids = {row[0] for row in reference(params)}
                    assert bool(ids & rightful) == bool(rightful), f"probe {q}: the reference read {sorted(ids)}, expected {sorted(rightful)}"

                timings = reference_read.alternate(len(made), find, read)
            print(f"  FindDuplicates  {len(made)} calls, one at a time: {reference_read.summary(*timings)}")
            asked = [len(range(k, len(made), 3)) for k in range(3)]
            print(
                f"  planted customer THE top candidate: same phone {found[0]}/{asked[0]}, same name+birthday {found[1]}/{asked[1]};"
                f" candidates for new customers {found[2]}/{asked[2]}"
            )
            channel.close()
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
