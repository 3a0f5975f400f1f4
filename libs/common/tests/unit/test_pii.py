"""PII tokens round-trip, bind to their row and column, survive key rotation; blind indexes separate kinds."""

from __future__ import annotations

import base64
import hashlib
import os

import pytest

from crm_common.pii import (
    DEV_PII_INDEX_KEY,
    DEV_PII_KEYS,
    BlindIndex,
    FieldCipher,
    KeyRing,
    PiiCodec,
    PiiDecryptError,
    PiiError,
    PiiKeyError,
    load_pii,
)

CONTEXT = "accounts.national_id:acc-1"


def _b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def _cipher(spec: str = DEV_PII_KEYS) -> FieldCipher:
    return FieldCipher(KeyRing.parse(spec))


def test_dev_keys_are_the_documented_derivations() -> None:
    ring = KeyRing.parse(DEV_PII_KEYS)
    assert ring.current == "dev1"
    assert ring.keys["dev1"] == hashlib.sha256(b"crm-dev-only-pii-encryption-key-never-use-in-production").digest()
    assert base64.b64decode(DEV_PII_INDEX_KEY) == hashlib.sha256(b"crm-dev-only-pii-index-key-never-use-in-production").digest()


@pytest.mark.parametrize("plaintext", ["079201001234", "an@example.com", "Nguyễn Thị Ánh Tuyết, 12 Phố Huế, Hà Nội"])
def test_round_trip(plaintext: str) -> None:
    cipher = _cipher()
    token = cipher.encrypt(plaintext, CONTEXT)
    assert token.startswith("dev1:") and plaintext not in token
    assert "=" not in token and "+" not in token and "/" not in token
    assert cipher.decrypt(token, CONTEXT) == plaintext
    assert cipher.key_id(token) == "dev1" and not cipher.needs_rotation(token)


def test_empty_string_passes_through() -> None:
    cipher = _cipher()
    assert cipher.encrypt("", CONTEXT) == ""
    assert cipher.decrypt("", CONTEXT) == ""
    assert not cipher.needs_rotation("")
    assert cipher.reencrypt("", CONTEXT) == ""
    assert BlindIndex.from_base64(DEV_PII_INDEX_KEY)("phone", "") == ""


def test_same_value_encrypts_differently_but_indexes_the_same() -> None:
    cipher, index = load_pii(DEV_PII_KEYS, DEV_PII_INDEX_KEY)
    first, second = cipher.encrypt("+84912345678", CONTEXT), cipher.encrypt("+84912345678", CONTEXT)
    assert first != second
    assert cipher.decrypt(first, CONTEXT) == cipher.decrypt(second, CONTEXT) == "+84912345678"
    digest = index("phone", "+84912345678")
    assert digest == index("phone", "+84912345678")
    assert len(digest) == 32 and int(digest, 16) >= 0


def test_a_token_from_another_row_or_column_does_not_decrypt() -> None:
    cipher = _cipher()
    token = cipher.encrypt("079201001234", CONTEXT)
    with pytest.raises(PiiDecryptError):
        cipher.decrypt(token, "accounts.national_id:acc-2")
    with pytest.raises(PiiDecryptError):
        cipher.decrypt(token, "accounts.phone:acc-1")


def test_a_tampered_token_does_not_decrypt() -> None:
    cipher = _cipher()
    token = cipher.encrypt("079201001234", CONTEXT)
    key_id, body = token.split(":")
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[15] ^= 0x01  # a ciphertext byte, past the 12-byte nonce
    flipped = f"{key_id}:{base64.urlsafe_b64encode(bytes(raw)).decode().rstrip('=')}"
    for bad in (flipped, token[:-4], token + "A", "dev1:abc", "dev1:A", "dev1:", "no-colon", "dev1:not base64!"):
        with pytest.raises(PiiDecryptError):
            cipher.decrypt(bad, CONTEXT)
    # Any one character changed anywhere in the body, including spare bits of the last one.
    start = len(key_id) + 1
    for position in range(start, len(token)):
        changed = token[:position] + ("B" if token[position] == "A" else "A") + token[position + 1 :]
        with pytest.raises(PiiDecryptError):
            cipher.decrypt(changed, CONTEXT)


def test_a_token_under_an_unknown_key_id_does_not_decrypt() -> None:
    token = _cipher(f"old1:{_b64(os.urandom(32))}").encrypt("an@example.com", CONTEXT)
    with pytest.raises(PiiDecryptError, match="unknown key id"):
        _cipher().decrypt(token, CONTEXT)
    # Same id, different key material: the tag check fails.
    relabelled = "dev1:" + token.split(":", 1)[1]
    with pytest.raises(PiiDecryptError):
        _cipher().decrypt(relabelled, CONTEXT)


def test_rotation_keeps_old_tokens_readable_and_moves_them_to_the_current_key() -> None:
    old_key, new_key = _b64(os.urandom(32)), _b64(os.urandom(32))
    old_cipher = _cipher(f"k1:{old_key}")
    token = old_cipher.encrypt("Trần Văn Bình", CONTEXT)

    rotated = _cipher(f"k2:{new_key},k1:{old_key}")
    assert rotated.ring.current == "k2"
    assert rotated.decrypt(token, CONTEXT) == "Trần Văn Bình"
    assert rotated.key_id(token) == "k1" and rotated.needs_rotation(token)

    moved = rotated.reencrypt(token, CONTEXT)
    assert rotated.key_id(moved) == "k2" and not rotated.needs_rotation(moved)
    assert rotated.decrypt(moved, CONTEXT) == "Trần Văn Bình"
    assert rotated.reencrypt(moved, CONTEXT) == moved
    assert _cipher(f"k2:{new_key}").decrypt(moved, CONTEXT) == "Trần Văn Bình"
    with pytest.raises(PiiDecryptError):
        old_cipher.decrypt(moved, CONTEXT)


def test_reencrypt_refuses_a_token_for_another_context() -> None:
    old_key, new_key = _b64(os.urandom(32)), _b64(os.urandom(32))
    token = _cipher(f"k1:{old_key}").encrypt("079201001234", CONTEXT)
    with pytest.raises(PiiDecryptError):
        _cipher(f"k2:{new_key},k1:{old_key}").reencrypt(token, "accounts.national_id:acc-2")


def test_keys_parse_standard_and_urlsafe_base64_with_or_without_padding() -> None:
    key = bytes(range(224, 256))  # encodes with + and / in standard base64
    standard, urlsafe = _b64(key), base64.urlsafe_b64encode(key).decode().rstrip("=")
    assert "/" in standard and "_" in urlsafe
    ring = KeyRing.parse(f" a:{standard} , b_2:{urlsafe} ")
    assert ring.current == "a" and dict(ring.keys) == {"a": key, "b_2": key}
    assert BlindIndex.from_base64(urlsafe)("email", "x@y.vn") == BlindIndex(key)("email", "x@y.vn")


def test_a_ring_never_shows_its_keys() -> None:
    key = _b64(os.urandom(32))
    ring = KeyRing.parse(f"k1:{key}")
    assert key not in repr(ring) and repr(ring.keys["k1"]) not in repr(ring)


SECRET = _b64(os.urandom(32))
SHORT = _b64(os.urandom(16))


@pytest.mark.parametrize(
    ("spec", "problem", "secret"),
    [
        ("", "no PII keys", ""),
        (" , ", "no PII keys", ""),
        (f"Bad!:{SECRET}", "key id must match", SECRET),
        (f"{'a' * 17}:{SECRET}", "key id must match", SECRET),
        (f":{SECRET}", "key id must match", SECRET),
        (SECRET, "not key_id:base64key", SECRET),
        (f"k1:{SECRET},k1:{SECRET}", "more than once", SECRET),
        (f"k1:{SHORT}", "32 bytes, got 16", SHORT),
        (f"k1:{_b64(os.urandom(48))}", "32 bytes, got 48", ""),
        (f"k1:{SECRET[:-2]}!!", "not valid base64", SECRET[:-2]),
        (f"k1:{SECRET.rstrip('=')[:-2]}", "not valid base64", SECRET[:-3]),  # a length no base64 has
        ("k1:", "not valid base64", ""),
        (f"k1:{SECRET},", "entry 2 is not key_id:base64key", SECRET),
    ],
)
def test_bad_key_specs_are_refused_without_echoing_the_key(spec: str, problem: str, secret: str) -> None:
    with pytest.raises(PiiKeyError, match=problem) as err:
        KeyRing.parse(spec)
    assert isinstance(err.value, PiiError) and isinstance(err.value, ValueError)
    if secret:
        assert secret not in str(err.value) and secret[:8] not in str(err.value)


def test_bad_index_keys_are_refused_without_echoing_the_key() -> None:
    for spec, problem in ((SHORT, "32 bytes"), ("not base64!", "not valid base64"), ("", "not valid base64")):
        with pytest.raises(PiiKeyError, match=problem) as err:
            BlindIndex.from_base64(spec)
        if spec:
            assert spec not in str(err.value)
    with pytest.raises(PiiKeyError, match="32 bytes"):
        BlindIndex(b"short")


def test_the_index_key_must_not_be_an_encryption_key() -> None:
    key = _b64(os.urandom(32))
    with pytest.raises(PiiKeyError, match="must differ"):
        load_pii(f"k1:{key}", key)


def test_blind_index_separates_kinds_and_keys() -> None:
    index = BlindIndex.from_base64(DEV_PII_INDEX_KEY)
    other = BlindIndex(os.urandom(32))
    assert index("phone", "84912345678") != index("national_id", "84912345678")
    assert index("phone", "+84912345678") != other("phone", "+84912345678")
    # kind and value are separated, not just concatenated.
    assert index("email", "ab") != index("emai", "lab")
    with pytest.raises(PiiError):
        index("", "value")
    with pytest.raises(PiiError):
        index("phone\x00x", "value")


def test_word_prefix_tokens_find_any_word_start_and_nothing_else() -> None:
    codec = PiiCodec.from_settings(DEV_PII_KEYS, DEV_PII_INDEX_KEY)
    stored = set(codec.search_tokens("name", "nguyen van an").split())
    for query in ("n", "nguyen", "nguyen v", "van", "van an", "a", "an"):
        assert codec.search_token("name", query) in stored, query
    for query in ("guyen", "van b", "an x", "nguyen van an b"):
        assert codec.search_token("name", query) not in stored, query
    # Tokens are keyed: another index key gives other tokens; and no token is the plain text.
    other = PiiCodec.from_settings(DEV_PII_KEYS, _b64(bytes(range(32))))
    assert other.search_token("name", "van") not in stored
    assert not stored & {"nguyen", "van", "an"}
    assert codec.search_tokens("name", "") == ""


def test_word_prefix_tokens_are_bounded_for_long_names() -> None:
    codec = PiiCodec.from_settings(DEV_PII_KEYS, DEV_PII_INDEX_KEY)
    long_name = " ".join(["tonnhuthienhoangvuonglong"] * 20)  # 25 letters a word
    tokens = codec.search_tokens("name", long_name).split()
    assert len(tokens) <= 8 * 24
    # A query longer than the indexed prefix looks up its first 24 characters (callers re-check).
    assert codec.search_token("name", long_name[:40]) == codec.search_token("name", long_name[:24])
    assert codec.search_token("name", long_name[:24]) in tokens


def test_indexes_and_tokens_are_hmac_sha256_as_stored_before_the_speed_up() -> None:
    # Rows indexed before issue 14's faster hashing must still be found: same bytes, same digests.
    import hmac

    key = base64.b64decode(DEV_PII_INDEX_KEY)
    codec = PiiCodec.from_settings(DEV_PII_KEYS, DEV_PII_INDEX_KEY)
    assert codec.index("phone", "+84912345678") == hmac.new(key, b"phone\x00+84912345678", hashlib.sha256).hexdigest()[:32]
    name = "tran thi  thu ha nguyen van an le dang van duc"
    expected: dict[str, None] = {}
    for start in [0, *[i + 1 for i, ch in enumerate(name) if ch == " "][:7]]:
        rest = name[start : start + 24]
        for end in range(1, len(rest) + 1):
            if rest[end - 1] != " ":
                expected[hmac.new(key, b"name.prefix\x00" + rest[:end].encode(), hashlib.sha256).hexdigest()[:12]] = None
    assert codec.search_tokens("name", name) == " ".join(expected)
    with pytest.raises(PiiError):
        codec.search_tokens("", name)
