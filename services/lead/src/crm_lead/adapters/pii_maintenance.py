"""`crm-lead pii reencrypt|reindex`: the stored-data half of rotating the PII keys.

reencrypt: after a new key is put first in PII_KEYS, rewrites every lead token (name, phone,
email, national id, notes, contact-attempt notes, behaviour details) still under an older key.
reindex: after PII_INDEX_KEY changes, recomputes the phone, email and national-id blind
indexes and the name-search tokens from the decrypted values.
"""

from __future__ import annotations

from sqlalchemy import Engine

from crm_common.pii import BlindIndex, FieldCipher, PiiCodec
from crm_common.pii_tables import reencrypt_tables, reindex_tables
from crm_lead.adapters.orm import PII_TABLES


def reencrypt(engine: Engine, cipher: FieldCipher) -> int:
    """How many tokens were rewritten under the current key."""
    return reencrypt_tables(engine, cipher, PII_TABLES)


def reindex(engine: Engine, cipher: FieldCipher, index: BlindIndex) -> int:
    """How many leads were reindexed."""
    return reindex_tables(engine, PiiCodec(cipher, index), PII_TABLES)
