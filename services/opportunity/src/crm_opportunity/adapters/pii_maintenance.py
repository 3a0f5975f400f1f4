"""`crm-opportunity pii reencrypt|reindex`: the stored-data half of rotating the PII keys.

reencrypt: after a new key is put first in PII_KEYS, rewrites every activity token (subject,
notes, outcome) still under an older key. reindex: the activities' free text has no blind
index, so after PII_INDEX_KEY changes there is nothing to recompute (it reports 0).
"""

from __future__ import annotations

from sqlalchemy import Engine

from crm_common.pii import BlindIndex, FieldCipher, PiiCodec
from crm_common.pii_tables import reencrypt_tables, reindex_tables
from crm_opportunity.adapters.orm import PII_TABLES


def reencrypt(engine: Engine, cipher: FieldCipher) -> int:
    """How many tokens were rewritten under the current key."""
    return reencrypt_tables(engine, cipher, PII_TABLES)


def reindex(engine: Engine, cipher: FieldCipher, index: BlindIndex) -> int:
    """How many rows were reindexed (none: no blind indexes over activities)."""
    return reindex_tables(engine, PiiCodec(cipher, index), PII_TABLES)
