"""Field-level encryption and blind indexes for personal data (phone, email, national id).

A database dump, backup or replica must not reveal who our customers are, so PII columns hold
AES-256-GCM tokens rather than plaintext. Each token names the key that made it, so keys can
be rotated without a flag day: the first key of the ring encrypts, older ones only decrypt
until `reencrypt` has moved every row. The row and column (the `context`) are bound into
every token as associated data, so a token copied to another row or column fails to decrypt.

Encrypted columns cannot be searched, so lookups (find a lead by phone, spot a duplicate)
go through a blind index: a keyed HMAC of the normalised value, stored beside the token.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

# Dev-only keys, base64(sha256(b"crm-dev-only-pii-encryption-key-never-use-in-production")) and
# base64(sha256(b"crm-dev-only-pii-index-key-never-use-in-production")): anyone can rebuild
# them, so settings refuse them when CRM_ENV=production.
DEV_PII_KEYS = "dev1:lERjmTjceqfacMXmCrutSKYSDlytA8Ho0p7ZTXTbX14="
DEV_PII_INDEX_KEY = "tfI/JBb5eV27jJDIpYYt6B7SjGLaCjV+2IhKSxfkSUY="

_KEY_BYTES = 32
_NONCE_BYTES = 12
_TAG_BYTES = 16
_KEY_ID = re.compile(r"[a-z0-9_-]{1,16}")
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]+={0,2}")
_TOKEN_BODY = re.compile(r"[A-Za-z0-9_-]+")


class PiiError(ValueError):
    """Anything wrong with protecting personal data; a ValueError so config loaders report it."""


class PiiKeyError(PiiError):
    """The key configuration is unusable; raised at start so a pod never runs half-keyed."""


class PiiDecryptError(PiiError):
    """A token cannot be opened: unknown key id, tampered, or stored under another row/column."""


def _decode_key(text: str, what: str) -> bytes:
    """32 key bytes from standard or urlsafe base64; errors name `what`, never the key text."""
    text = text.strip()
    if not _BASE64.fullmatch(text):
        raise PiiKeyError(f"{what} is not valid base64")
    normalised = text.replace("-", "+").replace("_", "/").rstrip("=")
    normalised += "=" * (-len(normalised) % 4)
    try:
        key = base64.b64decode(normalised, validate=True)
    except (binascii.Error, ValueError):
        raise PiiKeyError(f"{what} is not valid base64") from None
    if len(key) != _KEY_BYTES:
        raise PiiKeyError(f"{what} must decode to {_KEY_BYTES} bytes, got {len(key)}")
    return key


@dataclass(frozen=True)
class KeyRing:
    """The encryption keys by id; `current` encrypts, the others only decrypt older tokens."""

    # repr=False: a logged or printed ring must not leak key material.
    keys: Mapping[str, bytes] = field(repr=False)
    current: str

    def __post_init__(self) -> None:
        for key_id, key in self.keys.items():
            if not _KEY_ID.fullmatch(key_id):
                raise PiiKeyError("PII key ids must match [a-z0-9_-]{1,16}")
            if len(key) != _KEY_BYTES:
                raise PiiKeyError(f"PII key {key_id!r} must be {_KEY_BYTES} bytes, got {len(key)}")
        if self.current not in self.keys:
            raise PiiKeyError("the current PII key id is not in the ring")
        # A read-only copy, so the caller's dict cannot change a frozen ring later.
        object.__setattr__(self, "keys", MappingProxyType(dict(self.keys)))

    @classmethod
    def parse(cls, spec: str) -> KeyRing:
        """Read "key_id:base64key,..." (e.g. from PII_KEYS); the first entry is the current key."""
        entries = [entry.strip() for entry in spec.split(",")]
        if not any(entries):
            raise PiiKeyError("no PII keys given: expected key_id:base64key[,key_id:base64key...]")
        keys: dict[str, bytes] = {}
        for position, entry in enumerate(entries, start=1):
            key_id, sep, material = entry.partition(":")
            key_id = key_id.strip()
            # Entries are named by position until their id is known to be an id, not a key.
            if not sep:
                raise PiiKeyError(f"PII key entry {position} is not key_id:base64key")
            if not _KEY_ID.fullmatch(key_id):
                raise PiiKeyError(f"PII key entry {position}: key id must match [a-z0-9_-]{{1,16}}")
            if key_id in keys:
                raise PiiKeyError(f"PII key id {key_id!r} appears more than once")
            keys[key_id] = _decode_key(material, f"PII key {key_id!r}")
        return cls(keys=keys, current=next(iter(keys)))


class FieldCipher:
    """Encrypts one PII value per call into a self-describing "<key_id>:<base64url>" token."""

    def __init__(self, ring: KeyRing) -> None:
        self.ring = ring
        self._aead = {key_id: AESGCM(key) for key_id, key in ring.keys.items()}

    def encrypt(self, plaintext: str, context: str) -> str:
        """Token for `plaintext` bound to `context` (e.g. "accounts.national_id:<row id>")."""
        if plaintext == "":
            return ""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead[self.ring.current].encrypt(nonce, plaintext.encode("utf-8"), context.encode("utf-8"))
        body = base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode("ascii")
        return f"{self.ring.current}:{body}"

    def decrypt(self, token: str, context: str) -> str:
        """The plaintext, if the token is intact, its key is in the ring and the context matches."""
        if token == "":
            return ""
        key_id, body = self._split(token)
        aead = self._aead.get(key_id)
        if aead is None:
            raise PiiDecryptError(f"PII token made with unknown key id {key_id!r}")
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except (binascii.Error, ValueError):
            raise PiiDecryptError("PII token is not valid base64url") from None
        # Spare low bits in the last character would let several strings decode to one token.
        if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != body:
            raise PiiDecryptError("PII token is not canonical base64url")
        if len(raw) < _NONCE_BYTES + _TAG_BYTES:
            raise PiiDecryptError("PII token is truncated")
        try:
            plain = aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode("utf-8"))
        except InvalidTag:
            raise PiiDecryptError("PII token was tampered with or belongs to another context") from None
        return plain.decode("utf-8")

    def key_id(self, token: str) -> str:
        """The id of the key a token was made with, without decrypting it."""
        return self._split(token)[0]

    def needs_rotation(self, token: str) -> bool:
        """True for a token made with a key other than the current one (a re-encryption job's filter)."""
        return token != "" and self.key_id(token) != self.ring.current

    def reencrypt(self, token: str, context: str) -> str:
        """The token under the current key; an already-current token comes back unchanged."""
        if not self.needs_rotation(token):
            return token
        return self.encrypt(self.decrypt(token, context), context)

    @staticmethod
    def _split(token: str) -> tuple[str, str]:
        key_id, sep, body = token.partition(":")
        if not sep or not _KEY_ID.fullmatch(key_id) or not _TOKEN_BODY.fullmatch(body):
            raise PiiDecryptError("not a PII token (expected key_id:base64url)")
        return key_id, body


class BlindIndex:
    """Keyed HMAC of a PII value, so equal values can be found without storing them in clear.

    The caller must normalise the value first (E.164 phone, lower-case email, digits-only
    national id), otherwise "0912 345 678" and "+84912345678" index differently. The `kind`
    ("phone", "email", "national_id") is hashed in, so equal strings of different kinds never
    collide. Rotating the index key changes every index: stored rows need a re-index
    (decrypt, normalise, index again) before lookups with the new key find them.
    """

    def __init__(self, key: bytes) -> None:
        if len(key) != _KEY_BYTES:
            raise PiiKeyError(f"the PII index key must be {_KEY_BYTES} bytes, got {len(key)}")
        self._key = key
        # Keyed once; each value hashes on a copy (half the cost of keying HMAC per value).
        self._keyed = hmac.new(key, digestmod=hashlib.sha256)

    @classmethod
    def from_base64(cls, spec: str) -> BlindIndex:
        """The index from a base64 key (e.g. PII_INDEX_KEY), checked like the encryption keys."""
        return cls(_decode_key(spec, "the PII index key"))

    def __call__(self, kind: str, normalised_value: str) -> str:
        """32 hex chars (128 bits) for the value, or "" for "" so empty columns stay empty."""
        if normalised_value == "":
            return ""
        if not kind or "\x00" in kind:
            # A NUL inside the kind would let two (kind, value) pairs hash the same bytes.
            raise PiiError("blind index kind must be non-empty and contain no NUL")
        return self.digest(kind.encode("utf-8") + b"\x00" + normalised_value.encode("utf-8"))[:32]

    def digest(self, message: bytes) -> str:
        """HMAC-SHA256 of `message` in hex, from the pre-keyed state."""
        keyed = self._keyed.copy()
        keyed.update(message)
        return keyed.hexdigest()


def load_pii(keys_spec: str, index_key_spec: str) -> tuple[FieldCipher, BlindIndex]:
    """Cipher and blind index from the PII_KEYS and PII_INDEX_KEY settings, for a composition root."""
    cipher = FieldCipher(KeyRing.parse(keys_spec))
    index = BlindIndex.from_base64(index_key_spec)
    # One key, one purpose: an index key that is also an encryption key weakens both.
    if any(hmac.compare_digest(index._key, key) for key in cipher.ring.keys.values()):
        raise PiiKeyError("the PII index key must differ from every PII encryption key")
    return cipher, index


# Word-prefix search over an encrypted name: a blind token per prefix of the text from each word
# start, so "van a" finds "nguyễn văn an" without the name being stored in clear. Bounded, so a
# 200-character name costs at most _SEARCH_STARTS × _SEARCH_PREFIX tokens.
_SEARCH_PREFIX = 24
_SEARCH_STARTS = 8
_SEARCH_TOKEN_HEX = 12  # 48 bits: collisions are rare, and callers re-check the decrypted value


class PiiCodec:
    """A service's cipher and blind index together: what its repositories need to store PII.

    Tokens are bound to a context naming the column and the row (e.g. "leads.phone:<lead id>"),
    so a ciphertext copied to another row or column does not decrypt.
    """

    def __init__(self, cipher: FieldCipher, index: BlindIndex) -> None:
        self.cipher = cipher
        self.index = index

    @classmethod
    def from_settings(cls, keys_spec: str, index_key_spec: str) -> PiiCodec:
        return cls(*load_pii(keys_spec, index_key_spec))

    def encrypt(self, context: str, value: str) -> str:
        return self.cipher.encrypt(value, context)

    def decrypt(self, context: str, token: str) -> str:
        return self.cipher.decrypt(token, context)

    def search_tokens(self, kind: str, folded: str) -> str:
        """Space-separated blind tokens of every word-prefix of `folded` (see search_token)."""
        starts = [0, *[i + 1 for i, ch in enumerate(folded) if ch == " "][: _SEARCH_STARTS - 1]]
        # Each distinct prefix once (a name's words share prefixes); a token per prefix is what
        # _token gives, with the kind's bytes built once for the whole name.
        prefixes: dict[str, None] = {}
        for start in starts:
            rest = folded[start : start + _SEARCH_PREFIX]
            for end in range(1, len(rest) + 1):
                if rest[end - 1] != " ":
                    prefixes[rest[:end]] = None
        head, digest = self._token_kind(kind), self.index.digest
        return " ".join(dict.fromkeys(digest(head + p.encode("utf-8"))[:_SEARCH_TOKEN_HEX] for p in prefixes))

    def search_token(self, kind: str, folded_prefix: str) -> str:
        """The token a stored text has when some word of it starts with `folded_prefix`; a
        prefix longer than the indexed length is cut to it, so callers re-check the match."""
        return self._token(kind, folded_prefix[:_SEARCH_PREFIX].rstrip(" "))

    def _token(self, kind: str, text: str) -> str:
        return self.index(f"{kind}.prefix", text)[:_SEARCH_TOKEN_HEX]

    @staticmethod
    def _token_kind(kind: str) -> bytes:
        """The bytes _token's blind index puts before the text (BlindIndex: kind, NUL, value)."""
        if not kind or "\x00" in kind:
            raise PiiError("blind index kind must be non-empty and contain no NUL")
        return f"{kind}.prefix".encode() + b"\x00"
