"""The territory hierarchy of one model version.

The bank loads nodes by code and parent code; `Hierarchy.build` checks them all at once (one
root at level BANK, known parents, no cycles, levels only going down, valid GSO province codes,
dimensions only narrowing) and gives every node a dotted materialized path of codes from the root
as its territory id ("VN.NORTH.HN.HN01"). "A territory includes its descendants" is then a
prefix test (`includes`) that SQL (`LIKE 'VN.NORTH.%'`), token checks and this module share,
with no tree walk.

A node is geography (bank → region → province → branch) crossed with dimensions (product line,
wealth tier, segment): a child at its parent's level must narrow a dimension (the affluent
territory of a province), and no child may contradict what its parent already fixed.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from enum import StrEnum

from crm_common import vietnam
from crm_common.errors import NotFound, ValidationCollector

SEPARATOR = "."
# After "." in code points: every id that starts with "X." sorts before "X/".
_AFTER_SEPARATOR = chr(ord(SEPARATOR) + 1)
_CODE = re.compile(r"[A-Z0-9][A-Z0-9_-]{0,31}")


class Level(StrEnum):
    BANK = "BANK"
    REGION = "REGION"
    PROVINCE = "PROVINCE"
    BRANCH = "BRANCH"

    @property
    def rank(self) -> int:
        return _LEVEL_RANK[self]


_LEVEL_RANK = {Level.BANK: 0, Level.REGION: 1, Level.PROVINCE: 2, Level.BRANCH: 3}


class ProductLine(StrEnum):
    CARDS = "CARDS"
    UNSECURED_LOANS = "UNSECURED_LOANS"
    MORTGAGE = "MORTGAGE"
    DEPOSITS = "DEPOSITS"
    BANCASSURANCE = "BANCASSURANCE"


class WealthTier(StrEnum):
    MASS = "MASS"
    AFFLUENT = "AFFLUENT"
    PRIVATE = "PRIVATE"


class Segment(StrEnum):
    RETAIL = "RETAIL"
    SME = "SME"


@dataclass(frozen=True)
class Dimensions:
    """None means "any": the territory is not split on that dimension."""

    product_line: ProductLine | None = None
    wealth_tier: WealthTier | None = None
    segment: Segment | None = None

    def narrowed_by(self, own: Dimensions) -> Dimensions:
        return Dimensions(
            own.product_line or self.product_line,
            own.wealth_tier or self.wealth_tier,
            own.segment or self.segment,
        )


@dataclass(frozen=True)
class NodeSpec:
    """A node as loaded: its code and its parent's code ("" for the root)."""

    code: str
    parent_code: str
    name: str
    level: Level
    province_code: str = ""
    branch_id: str = ""
    dimensions: Dimensions = Dimensions()


@dataclass(frozen=True)
class Territory:
    territory_id: str
    code: str
    parent_id: str
    name: str
    level: Level
    # Own or inherited from the parent.
    province_code: str
    branch_id: str
    dimensions: Dimensions

    def includes(self, territory_id: str) -> bool:
        return includes(self.territory_id, territory_id)


def includes(ancestor_id: str, territory_id: str) -> bool:
    """True when territory_id is ancestor_id or lies below it."""
    return territory_id == ancestor_id or territory_id.startswith(ancestor_id + SEPARATOR)


def parent_of(territory_id: str) -> str:
    head, _, _ = territory_id.rpartition(SEPARATOR)
    return head


def ancestors_of(territory_id: str) -> list[str]:
    """The ids from the root down to territory_id's parent, read from the path alone."""
    parts = territory_id.split(SEPARATOR)
    return [SEPARATOR.join(parts[:i]) for i in range(1, len(parts))]


def minimal_cover(territory_ids: Iterable[str]) -> list[str]:
    """The ids of the set that no other id of the set includes, sorted."""
    cover: list[str] = []
    for territory_id in sorted(set(territory_ids)):
        # Sorted order puts an ancestor right before its first descendant.
        if not cover or not includes(cover[-1], territory_id):
            cover.append(territory_id)
    return cover


class Hierarchy:
    """An immutable, validated tree of territories, by materialized path."""

    def __init__(self, territories: Iterable[Territory]) -> None:
        self._by_id = {t.territory_id: t for t in territories}
        self._by_code = {t.code: t for t in self._by_id.values()}
        self._sorted_ids = sorted(self._by_id)
        roots = [t for t in self._by_id.values() if not t.parent_id]
        self.root = roots[0] if len(roots) == 1 else None

    @classmethod
    def build(cls, specs: Iterable[NodeSpec], field: str = "nodes") -> Hierarchy:
        """Checks every node and derives the paths; InvalidArgument lists every violation."""
        nodes = list(specs)
        errors = ValidationCollector()
        index: dict[str, int] = {}
        for i, node in enumerate(nodes):
            where = f"{field}[{i}]"
            if not _CODE.fullmatch(node.code):
                errors.add(f"{where}.code", "1-32 of A-Z, 0-9, '_' and '-', starting with a letter or digit")
            elif node.code in index:
                errors.add(f"{where}.code", f"duplicate of {field}[{index[node.code]}]")
            else:
                index[node.code] = i
            if not node.name.strip():
                errors.add(f"{where}.name", "required")
            if node.province_code and vietnam.province(node.province_code) is None:
                errors.add(f"{where}.province_code", f"{node.province_code!r} is not a GSO province code")
        roots = [i for i, node in enumerate(nodes) if not node.parent_code]
        if len(roots) != 1:
            errors.add(field, f"exactly one root (a node without parent_code) is needed, found {len(roots)}")
        for i in roots:
            if nodes[i].level is not Level.BANK:
                errors.add(f"{field}[{i}].level", "the root is at level BANK")
        for i, node in enumerate(nodes):
            if node.parent_code and node.parent_code not in index:
                errors.add(f"{field}[{i}].parent_code", f"unknown code {node.parent_code!r}")
        for cycle in _cycles(nodes, index):
            first = min(cycle, key=lambda code: index[code])
            errors.add(f"{field}[{index[first]}].parent_code", "cycle: " + " → ".join([*cycle, cycle[0]]))
        errors.raise_if_any()

        children: dict[str, list[int]] = {}
        for i, node in enumerate(nodes):
            children.setdefault(node.parent_code, []).append(i)
        built: list[Territory] = []
        root = nodes[roots[0]]
        root_territory = Territory(root.code, root.code, "", root.name, root.level, root.province_code, root.branch_id, root.dimensions)
        _check_own_geography(root, None, f"{field}[{roots[0]}]", errors)
        built.append(root_territory)
        stack = [root_territory]
        while stack:
            parent = stack.pop()
            for i in children.get(parent.code, []):
                node = nodes[i]
                where = f"{field}[{i}]"
                _check_against_parent(node, parent, where, errors)
                territory = Territory(
                    territory_id=parent.territory_id + SEPARATOR + node.code,
                    code=node.code,
                    parent_id=parent.territory_id,
                    name=node.name,
                    level=node.level,
                    province_code=node.province_code or parent.province_code,
                    branch_id=node.branch_id or parent.branch_id,
                    dimensions=parent.dimensions.narrowed_by(node.dimensions),
                )
                built.append(territory)
                stack.append(territory)
        errors.raise_if_any()
        return cls(built)

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, territory_id: object) -> bool:
        return territory_id in self._by_id

    def __iter__(self) -> Iterator[Territory]:
        return (self._by_id[i] for i in self._sorted_ids)

    def get(self, territory_id: str) -> Territory:
        territory = self._by_id.get(territory_id)
        if territory is None:
            raise NotFound("territory", territory_id)
        return territory

    def by_code(self, code: str) -> Territory | None:
        return self._by_code.get(code)

    def descendant_ids(self, territory_id: str, include_self: bool = True) -> list[str]:
        """Every id below territory_id, in path order: one range of the sorted ids."""
        self.get(territory_id)
        low = bisect.bisect_left(self._sorted_ids, territory_id + SEPARATOR)
        high = bisect.bisect_left(self._sorted_ids, territory_id + _AFTER_SEPARATOR)
        below = self._sorted_ids[low:high]
        return [territory_id, *below] if include_self else below

    def children(self, territory_id: str) -> list[Territory]:
        depth = territory_id.count(SEPARATOR) + 1
        return [self._by_id[i] for i in self.descendant_ids(territory_id, include_self=False) if i.count(SEPARATOR) == depth]

    def diff(self, newer: Hierarchy) -> HierarchyChanges:
        """What changes from this hierarchy to a newer one, by node code."""
        added = sorted(t.territory_id for code, t in newer._by_code.items() if code not in self._by_code)
        removed = sorted(t.territory_id for code, t in self._by_code.items() if code not in newer._by_code)
        moved: list[tuple[str, str, str]] = []
        changed: list[str] = []
        for code, old in self._by_code.items():
            new = newer._by_code.get(code)
            if new is None:
                continue
            if new.territory_id != old.territory_id:
                moved.append((code, old.territory_id, new.territory_id))
            elif _attributes(new) != _attributes(old):
                changed.append(new.territory_id)
        return HierarchyChanges(added, removed, sorted(moved), sorted(changed))


@dataclass(frozen=True)
class HierarchyChanges:
    added: list[str]
    removed: list[str]
    # (code, old path, new path)
    moved: list[tuple[str, str, str]]
    changed: list[str]

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.moved or self.changed)


def _attributes(territory: Territory) -> tuple[object, ...]:
    return tuple(getattr(territory, f.name) for f in fields(territory) if f.name not in ("territory_id", "parent_id"))


def _cycles(nodes: list[NodeSpec], index: dict[str, int]) -> list[list[str]]:
    """Each cycle of parent links once, as the codes in parent order; iterative, O(n)."""
    state: dict[str, int] = {}  # 1: on the current walk, 2: done
    cycles: list[list[str]] = []
    for start in index:
        walk: list[str] = []
        code = start
        while code in index and code not in state:
            state[code] = 1
            walk.append(code)
            code = nodes[index[code]].parent_code
        if state.get(code) == 1:
            cycles.append(walk[walk.index(code) :])
        for seen in walk:
            state[seen] = 2
    return cycles


def _check_own_geography(node: NodeSpec, parent: Territory | None, where: str, errors: ValidationCollector) -> None:
    inherited_province = parent.province_code if parent else ""
    inherited_branch = parent.branch_id if parent else ""
    if node.level.rank < Level.PROVINCE.rank and node.province_code:
        errors.add(f"{where}.province_code", f"only PROVINCE and BRANCH nodes have one, not {node.level}")
    if node.level.rank >= Level.PROVINCE.rank and not (node.province_code or inherited_province):
        errors.add(f"{where}.province_code", f"required at level {node.level}")
    if node.province_code and inherited_province and node.province_code != inherited_province:
        errors.add(f"{where}.province_code", f"the parent is in province {inherited_province}")
    if node.level is not Level.BRANCH and node.branch_id:
        errors.add(f"{where}.branch_id", f"only BRANCH nodes have one, not {node.level}")
    if node.level is Level.BRANCH and not (node.branch_id or inherited_branch):
        errors.add(f"{where}.branch_id", "required at level BRANCH")
    if node.branch_id and inherited_branch and node.branch_id != inherited_branch:
        errors.add(f"{where}.branch_id", f"the parent is branch {inherited_branch}")


def _check_against_parent(node: NodeSpec, parent: Territory, where: str, errors: ValidationCollector) -> None:
    if node.level.rank < parent.level.rank:
        errors.add(f"{where}.level", f"{node.level} cannot sit under {parent.level} {parent.territory_id}")
    _check_own_geography(node, parent, where, errors)
    narrows = False
    for dimension in ("product_line", "wealth_tier", "segment"):
        own = getattr(node.dimensions, dimension)
        inherited = getattr(parent.dimensions, dimension)
        if own is not None and inherited is not None and own != inherited:
            errors.add(f"{where}.{dimension}", f"the parent {parent.territory_id} is {inherited}")
        narrows = narrows or (own is not None and inherited is None)
    if node.level is parent.level and not narrows:
        errors.add(f"{where}.level", f"a child at its parent's level ({node.level}) must narrow a dimension")
