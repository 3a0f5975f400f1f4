"""Hypothesis strategies that build any protobuf message from its descriptor, biased to the inputs
that once broke servers: NUL and control characters, emoji, huge strings, boundary numbers,
enum numbers the contract does not know, times out of range."""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from hypothesis import strategies as st

F = FieldDescriptor
MAX_DEPTH = 3

NASTY_STRINGS = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\x01\x02",
    "\x1b[31m",
    "\x7f",
    "\u0085",
    "\t\n\r",
    "😀",
    "😀" * 300,
    "Nguyễn Văn An",
    "\u202egnp.exe",
    "\ufeff",
    "x" * 37,
    "x" * 101,
    "x" * 201,
    "x" * 4096,
    "x" * 4097,
    "x" * 10_000,
    "'; DROP TABLE leads; --",
    "%s%n{0}",
    "0912345678",
    "an@example.com",
    "001099012345",
    "79",
    "VND",
    "2026-13",
]

strings = st.one_of(
    st.sampled_from(NASTY_STRINGS),
    st.text(max_size=40),
    st.text(max_size=20).map(lambda s: s + "\x00"),
)


def _ints(bits: int, signed: bool) -> st.SearchStrategy[int]:
    low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    edges = sorted({low, high, 0, 1, high - 1} | ({-1} if signed else set()))
    return st.one_of(st.sampled_from(edges), st.integers(low, high))


_SCALARS: dict[int, st.SearchStrategy[Any]] = {
    F.TYPE_STRING: strings,
    F.TYPE_BYTES: st.binary(max_size=64),
    F.TYPE_BOOL: st.booleans(),
    F.TYPE_DOUBLE: st.floats(allow_nan=True, allow_infinity=True),
    F.TYPE_FLOAT: st.floats(width=32, allow_nan=True, allow_infinity=True),
    F.TYPE_INT32: _ints(32, True),
    F.TYPE_SINT32: _ints(32, True),
    F.TYPE_SFIXED32: _ints(32, True),
    F.TYPE_INT64: _ints(64, True),
    F.TYPE_SINT64: _ints(64, True),
    F.TYPE_SFIXED64: _ints(64, True),
    F.TYPE_UINT32: _ints(32, False),
    F.TYPE_FIXED32: _ints(32, False),
    F.TYPE_UINT64: _ints(64, False),
    F.TYPE_FIXED64: _ints(64, False),
}


def _enum(fd: FieldDescriptor) -> st.SearchStrategy[int]:
    assert fd.enum_type is not None
    known = [v.number for v in fd.enum_type.values]
    return st.sampled_from(sorted(set(known) | {99, -1, 2**31 - 1}))


def _value(fd: FieldDescriptor, depth: int) -> st.SearchStrategy[Any] | None:
    if fd.type == F.TYPE_MESSAGE:
        assert fd.message_type is not None
        return messages(fd.message_type, depth + 1) if depth < MAX_DEPTH else None
    if fd.type == F.TYPE_ENUM:
        return _enum(fd)
    return _SCALARS.get(fd.type)


def messages(descriptor: Descriptor, depth: int = 0) -> st.SearchStrategy[Message]:
    """Messages of `descriptor`'s type with any subset of fields set, nested up to MAX_DEPTH."""
    cls = GetMessageClass(descriptor)

    @st.composite
    def build(draw: st.DrawFn) -> Message:
        message = cls()
        for fd in descriptor.fields:
            if not draw(st.booleans()):
                continue
            target = getattr(message, fd.name) if fd.is_repeated or fd.type == F.TYPE_MESSAGE else None
            if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
                key_fd, value_fd = fd.message_type.fields_by_name["key"], fd.message_type.fields_by_name["value"]
                key_s, value_s = _value(key_fd, depth), _value(value_fd, depth)
                if key_s is None or value_s is None:
                    continue
                for key, value in draw(st.dictionaries(key_s, value_s, max_size=2)).items():
                    if value_fd.type == F.TYPE_MESSAGE:
                        target[key].CopyFrom(value)
                    else:
                        target[key] = value
                continue
            strategy = _value(fd, depth)
            if strategy is None:
                continue
            if fd.is_repeated:
                items = draw(st.lists(strategy, max_size=3))
                if fd.type == F.TYPE_MESSAGE:
                    for item in items:
                        target.add().CopyFrom(item)
                else:
                    target.extend(items)
            elif fd.type == F.TYPE_MESSAGE:
                target.CopyFrom(draw(strategy))
            else:
                setattr(message, fd.name, draw(strategy))
        return message

    return build()
