"""`crm-account pii reencrypt|reindex`: the stored-data half of rotating the PII keys.

reencrypt: after a new key is put first in PII_KEYS, rewrites every ciphertext still under an
older key with the current one (same row and column context), so the old key can be dropped:
crm_common.pii_tables over the account's declared columns (`PII_TABLES`), and the tokens inside
the pre-merge snapshots an unmerge restores (`account_merges`).
reindex: after PII_INDEX_KEY changes, recomputes every blind index (national id, phones, emails,
the name + birth date blocking key) and the name-search tokens from the decrypted values, and
rebuilds the match-key claims (first holder by creation time, as they were made), which is
the account's own, hence written out here.
Both run in batches of one transaction each and can be re-run after an interruption.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update

from crm_account.adapters.orm import (
    ACCOUNTS_PII,
    CONTACT_POINTS_PII,
    PII_TABLES,
    account_contact_points,
    account_match_keys,
    account_merges,
    accounts,
)
from crm_account.adapters.repository import NAME_DOB, NATIONAL_ID
from crm_account.domain.duplicates import name_dob_key
from crm_common.contact import fold
from crm_common.pii import BlindIndex, FieldCipher, PiiCodec
from crm_common.pii_tables import BATCH, reencrypt_tables

(NATIONAL_ID_ENC, FULL_NAME_ENC), VALUE_ENC = ACCOUNTS_PII.columns, CONTACT_POINTS_PII.columns[0]


def _update_point(conn: Connection, point: Any, **values: str) -> None:
    c = account_contact_points.c
    conn.execute(
        update(account_contact_points).where(c.account_id == point.account_id, c.kind == point.kind, c.position == point.position).values(values)
    )


def _reencrypt_snapshot(text: str, cipher: FieldCipher) -> tuple[str, int]:
    """A snapshot (AccountRepository.snapshot) with its tokens under the current key."""
    data = json.loads(text)
    row, rewritten = data["account"], 0
    for sealed in ACCOUNTS_PII.columns:
        if cipher.needs_rotation(row[sealed.column]):
            row[sealed.column] = cipher.reencrypt(row[sealed.column], ACCOUNTS_PII.row_context(sealed, row))
            rewritten += 1
    for point in data["contact_points"]:
        if cipher.needs_rotation(point["value_enc"]):
            point["value_enc"] = cipher.reencrypt(point["value_enc"], CONTACT_POINTS_PII.row_context(VALUE_ENC, point))
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
    return _reencrypt_snapshots(engine, cipher) + reencrypt_tables(engine, cipher, PII_TABLES)


def reindex(engine: Engine, cipher: FieldCipher, index: BlindIndex) -> int:
    """Recomputes every blind index under `index`; returns the number of accounts reindexed."""
    codec = PiiCodec(cipher, index)
    done = 0
    with engine.begin() as conn:
        conn.execute(delete(account_match_keys))
    after_time, after_id = None, ""
    while True:
        with engine.begin() as conn:
            query = select(
                accounts.c.account_id, accounts.c.national_id_enc, accounts.c.full_name_enc, accounts.c.date_of_birth, accounts.c.created_at
            ).order_by(accounts.c.created_at, accounts.c.account_id)
            if after_time is not None:
                query = query.where(
                    (accounts.c.created_at > after_time) | ((accounts.c.created_at == after_time) & (accounts.c.account_id > after_id))
                )
            rows = conn.execute(query.limit(BATCH)).all()
            if not rows:
                return done
            for row in rows:
                national_id = codec.decrypt(ACCOUNTS_PII.row_context(NATIONAL_ID_ENC, row._mapping), row.national_id_enc)
                keys = [codec.index(NATIONAL_ID, national_id)] if national_id else []
                name = codec.decrypt(ACCOUNTS_PII.row_context(FULL_NAME_ENC, row._mapping), row.full_name_enc)
                names = {
                    "name_tokens": codec.search_tokens("name", fold(name)),
                    "name_dob_bidx": codec.index(NAME_DOB, name_dob_key(name, row.date_of_birth)),
                }
                conn.execute(
                    update(accounts).where(accounts.c.account_id == row.account_id).values(national_id_bidx=keys[0] if keys else "", **names)
                )
                points = conn.execute(
                    select(account_contact_points)
                    .where(account_contact_points.c.account_id == row.account_id)
                    .order_by(account_contact_points.c.kind, account_contact_points.c.position)
                ).all()
                for point in points:
                    bidx = codec.index(point.kind, codec.decrypt(CONTACT_POINTS_PII.row_context(VALUE_ENC, point._mapping), point.value_enc))
                    _update_point(conn, point, value_bidx=bidx)
                    if point.position == 0:
                        keys.append(bidx)
                for key in keys:
                    if conn.scalar(select(account_match_keys.c.account_id).where(account_match_keys.c.key_bidx == key)) is None:
                        conn.execute(insert(account_match_keys).values(key_bidx=key, account_id=row.account_id))
                done += 1
            after_time, after_id = rows[-1].created_at, rows[-1].account_id
