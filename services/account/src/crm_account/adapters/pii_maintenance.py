"""`crm-account pii reencrypt|reindex`: the stored-data half of rotating the PII keys.

reencrypt: after a new key is put first in PII_KEYS, rewrites every ciphertext still under an
older key with the current one (same row and column context), so the old key can be dropped;
also those inside the pre-merge snapshots an unmerge restores (`account_merges`).
reindex: after PII_INDEX_KEY changes, recomputes every blind index from the decrypted values
and rebuilds the match-key claims (first holder by creation time, as they were made).
Both run in batches of one transaction each and can be re-run after an interruption.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update

from crm_account.adapters.orm import account_contact_points, account_match_keys, account_merges, accounts
from crm_account.adapters.repository import NATIONAL_ID
from crm_common.pii import BlindIndex, FieldCipher

BATCH = 500


def _update_point(conn: Connection, point: Any, **values: str) -> None:
    c = account_contact_points.c
    conn.execute(
        update(account_contact_points).where(c.account_id == point.account_id, c.kind == point.kind, c.position == point.position).values(values)
    )


def _reencrypt_snapshot(text: str, cipher: FieldCipher) -> tuple[str, int]:
    """A snapshot (AccountRepository.snapshot) with its tokens under the current key."""
    data = json.loads(text)
    row, rewritten = data["account"], 0
    if cipher.needs_rotation(row["national_id_enc"]):
        row["national_id_enc"] = cipher.reencrypt(row["national_id_enc"], f"{NATIONAL_ID}:{row['account_id']}")
        rewritten += 1
    for point in data["contact_points"]:
        if cipher.needs_rotation(point["value_enc"]):
            point["value_enc"] = cipher.reencrypt(point["value_enc"], f"{point['kind']}:{point['account_id']}")
            rewritten += 1
    return json.dumps(data, sort_keys=True), rewritten


def _reencrypt_snapshots(engine: Engine, cipher: FieldCipher) -> int:
    rewritten = 0
    m = account_merges.c
    with engine.begin() as conn:
        for merge in conn.execute(select(m.merge_id, m.survivor_snapshot, m.merged_snapshot).where(m.merged_snapshot != "")).all():
            values = {}
            for column in ("survivor_snapshot", "merged_snapshot"):
                text, count = _reencrypt_snapshot(getattr(merge, column), cipher)
                if count:
                    values[column], rewritten = text, rewritten + count
            if values:
                conn.execute(update(account_merges).where(m.merge_id == merge.merge_id).values(values))
    return rewritten


def reencrypt(engine: Engine, cipher: FieldCipher) -> int:
    """Rewrites tokens not under the current key; returns how many were rewritten."""
    rewritten = _reencrypt_snapshots(engine, cipher)
    after = ""
    while True:
        with engine.begin() as conn:
            rows = conn.execute(
                select(accounts.c.account_id, accounts.c.national_id_enc)
                .where(accounts.c.account_id > after)
                .order_by(accounts.c.account_id)
                .limit(BATCH)
            ).all()
            if not rows:
                return rewritten
            for row in rows:
                if cipher.needs_rotation(row.national_id_enc):
                    token = cipher.reencrypt(row.national_id_enc, f"{NATIONAL_ID}:{row.account_id}")
                    conn.execute(update(accounts).where(accounts.c.account_id == row.account_id).values(national_id_enc=token))
                    rewritten += 1
            points = conn.execute(select(account_contact_points).where(account_contact_points.c.account_id.in_([r.account_id for r in rows]))).all()
            for point in points:
                if cipher.needs_rotation(point.value_enc):
                    _update_point(conn, point, value_enc=cipher.reencrypt(point.value_enc, f"{point.kind}:{point.account_id}"))
                    rewritten += 1
            after = rows[-1].account_id


def reindex(engine: Engine, cipher: FieldCipher, index: BlindIndex) -> int:
    """Recomputes every blind index under `index`; returns the number of accounts reindexed."""
    done = 0
    with engine.begin() as conn:
        conn.execute(delete(account_match_keys))
    after_time, after_id = None, ""
    while True:
        with engine.begin() as conn:
            query = select(accounts.c.account_id, accounts.c.national_id_enc, accounts.c.created_at).order_by(
                accounts.c.created_at, accounts.c.account_id
            )
            if after_time is not None:
                query = query.where(
                    (accounts.c.created_at > after_time) | ((accounts.c.created_at == after_time) & (accounts.c.account_id > after_id))
                )
            rows = conn.execute(query.limit(BATCH)).all()
            if not rows:
                return done
            for row in rows:
                national_id = cipher.decrypt(row.national_id_enc, f"{NATIONAL_ID}:{row.account_id}")
                keys = [index(NATIONAL_ID, national_id)] if national_id else []
                conn.execute(update(accounts).where(accounts.c.account_id == row.account_id).values(national_id_bidx=keys[0] if keys else ""))
                points = conn.execute(
                    select(account_contact_points)
                    .where(account_contact_points.c.account_id == row.account_id)
                    .order_by(account_contact_points.c.kind, account_contact_points.c.position)
                ).all()
                for point in points:
                    bidx = index(point.kind, cipher.decrypt(point.value_enc, f"{point.kind}:{point.account_id}"))
                    _update_point(conn, point, value_bidx=bidx)
                    if point.position == 0:
                        keys.append(bidx)
                for key in keys:
                    if conn.scalar(select(account_match_keys.c.account_id).where(account_match_keys.c.key_bidx == key)) is None:
                        conn.execute(insert(account_match_keys).values(key_bidx=key, account_id=row.account_id))
                done += 1
            after_time, after_id = rows[-1].created_at, rows[-1].account_id
