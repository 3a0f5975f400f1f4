"""Lets kombu (under nameko) hand protobuf bodies to handlers as raw bytes."""

from __future__ import annotations

from kombu.serialization import register

from crm_common.events import CONTENT_TYPE, SERIALIZER


def _identity(body: bytes) -> bytes:
    return body


def register_protobuf_serializer() -> None:
    register(SERIALIZER, _identity, _identity, content_type=CONTENT_TYPE, content_encoding="binary")
