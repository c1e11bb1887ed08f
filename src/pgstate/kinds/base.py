"""The kind: one unit per kind of object, owning every way pgstate handles its objects.

A kind parses its keys of the desired documents into frozen specs, reads its objects from the catalog (its
``.sql`` query), has the server canonicalise its specs (all of them at once, in the rolled-back sandbox), says
which live objects the desired state excludes, plans the steps that turn the live objects into the desired
ones, and writes a live object back as desired YAML. Everything else (drift, export, the recorded pre-run state,
rollback, ``plan --base``, the fingerprint) goes through these, and one generic keyed diff serves plan and drift
alike, so they cannot disagree.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar

from ..errors import PgstateError, SourceLocation
from ..model.access import Access
from ..model.keys import ObjectKey
from ..model.names import QualifiedName
from ..source.compose import Part, Unexpressible

if TYPE_CHECKING:
    from ..catalog.reader import Reader
    from ..planning.diff import Difference
    from ..planning.findings import Finding
    from ..planning.steps import Step
    from ..sandbox.session import Sandbox
    from ..source.documents import Header
    from .context import PlanContext


class Spec(Protocol):
    """What a kind parses from the desired files: frozen, with the key of the object and where it was written."""

    @property
    def key(self) -> ObjectKey: ...

    @property
    def location(self) -> SourceLocation: ...


S = TypeVar("S", bound=Spec)
O = TypeVar("O")  # noqa: E741  # the kind's object type


class Disposition(Enum):
    """What becomes of a live object that the desired state does not declare."""

    REMOVE = "remove"  # the desired state excludes it (prune_indexes, the complete set of policies): dropped
    UNMANAGED = "unmanaged"  # reported as information (an undeclared index of a table whose indexes are listed)
    IGNORE = "ignore"  # outside what the desired state manages


@dataclass(frozen=True)
class Desired(Generic[O]):
    """A kind's desired objects, spelled as the catalog spells them, and the objects that must not exist."""

    objects: Mapping[ObjectKey, O] = field(default_factory=dict)
    absent: Mapping[ObjectKey, SourceLocation | None] = field(default_factory=dict)
    locations: Mapping[ObjectKey, SourceLocation] = field(default_factory=dict)


@dataclass(frozen=True)
class Live(Generic[O]):
    """A kind's live objects (of what the desired state manages), and facts only the kind itself reads."""

    objects: Mapping[ObjectKey, O] = field(default_factory=dict)


class Kind(ABC, Generic[S, O]):
    """One kind of object. Subclasses set the class attributes and implement the abstract methods."""

    name: ClassVar[str]  # also the kind of its ObjectKeys: "index", "policy", ...
    document: ClassVar[str]  # the document kind its specs come from: table, function, view, database, role
    keys: ClassVar[tuple[str, ...]]  # the document keys it owns (for the database document: under `database:`)
    # Kinds whose canonical forms (or plans) this one needs first: policies call functions, indexes and
    # policies are read on tables with the desired column types.
    after: ClassVar[tuple[str, ...]] = ()
    # Finding names, for drift: a declared object missing live, one that differs, one the plan drops.
    finding_missing: ClassVar[str] = ""
    finding_changed: ClassVar[str] = ""
    finding_removed: ClassVar[str] = ""
    # The containers of its objects, when the kind keeps more than the objects (facts, options).
    live_type: ClassVar[type[Live[Any]]] = Live
    desired_type: ClassVar[type[Desired[Any]]] = Desired

    # --- source -------------------------------------------------------------------------------------------

    @abstractmethod
    def parse(self, header: Header) -> list[S]:
        """The specs of this kind in one document (already schema-valid)."""

    def identity(self, header: Header) -> tuple[str, ...]:
        """What this kind adds to its document's identity (two documents may not share one): a function's
        argument list, a role's scope."""
        return ()

    def check(self, specs: Sequence[S]) -> list[PgstateError]:
        """What a schema cannot say about this kind's specs (an object declared twice in one list, ...)."""
        return []

    # --- catalog ------------------------------------------------------------------------------------------

    @abstractmethod
    def read(self, reader: Reader, specs: Sequence[S]) -> Live[O]:
        """The live objects the specs manage (and what the kind needs to know about them), in the snapshot."""

    # --- sandbox ------------------------------------------------------------------------------------------

    @abstractmethod
    def canonicalize(self, sandbox: Sandbox, specs: Sequence[S], live: Live[O]) -> Desired[O]:
        """The desired objects, spelled as the catalog spells the same things; all specs at once."""

    def prefetch(
        self, sandbox: Sandbox, specs: Sequence[S], live: Live[O], rounds: Sequence[frozenset[QualifiedName]]
    ) -> None:
        """Before the rounds (kinds of table documents): what can be done for every table at once, in a few
        statements (sandbox.batch), kept in ``sandbox.facts`` for the rounds' ``canonicalize``. ``rounds`` are
        the tables as the rounds will take them: no two of one name in one, each within the lock budget."""

    def finish(self, sandbox: Sandbox, desired: Desired[O], live: Live[O]) -> Desired[O]:
        """After the rounds (kinds of table documents): what is asked once of the joined rounds' outcome
        rather than once per round."""
        return desired

    # --- comparing ----------------------------------------------------------------------------------------

    def live_only(self, key: ObjectKey, obj: O, desired: Desired[O], context: PlanContext) -> Disposition:
        """What becomes of a live object no spec declares."""
        return Disposition.IGNORE

    def differences(self, desired: Desired[O], live: Live[O], context: PlanContext) -> list[Difference]:
        """The keyed diff of desired and live (overridden by kinds that compare otherwise, like upkeep)."""
        from ..planning.diff import keyed_diff

        return keyed_diff(self, desired, live, context)

    # --- planning -----------------------------------------------------------------------------------------

    def blocking_changes(self, differences: Sequence[Difference], context: PlanContext) -> dict[ObjectKey, ObjectKey]:
        """Live objects this kind's plan alters or drops and creates in a way their dependents block (a column's
        type, a function that is dropped and created): old key -> the key of what takes its place."""
        return {}

    def problems(self, differences: Sequence[Difference], context: PlanContext) -> list[PgstateError]:
        """What the live catalog shows to be wrong with the desired state (a declared column that does not exist),
        each at its ``file:line``: checked for every kind before any step is planned."""
        return []

    @abstractmethod
    def plan(self, differences: Sequence[Difference], context: PlanContext) -> list[Step]:
        """The steps that make the live objects the desired ones (and re-create dependents in the way)."""

    # --- reporting ----------------------------------------------------------------------------------------

    def finding(self, difference: Difference, context: PlanContext) -> Finding:
        """How drift reports one difference (the same one the plan turns into steps)."""
        from ..planning.diff import Change
        from ..planning.findings import Finding

        table = str(difference.key.table) if self.document == "table" and difference.key.table else ""
        desired = self.describe(difference.desired) if difference.desired is not None else None
        live = self.describe(difference.live) if difference.live is not None else None
        if difference.change is Change.ADDED:
            name, message = self.finding_missing or f"missing-{self.name}", f"declared {self.name} does not exist"
        elif difference.change is Change.CHANGED:
            name, message = self.finding_changed or f"{self.name}-definition", "definition differs"
        else:
            name = self.finding_removed or f"undeclared-{self.name}"
            message = self.removed_message(difference)
        return Finding(
            name, self.name, difference.key, table, message, desired, live, difference.fields, difference.location
        )

    def removed_message(self, difference: Difference) -> str:
        return f"{self.name} exists but the desired state excludes it (apply drops it)"

    def notes(self, desired: Desired[O], live: Live[O], context: PlanContext) -> list[Finding]:
        """What drift reports beyond the differences: INVALID indexes, what needs a person (a restart)."""
        return []

    def describe(self, obj: O) -> str:
        """One line for people: what the object is."""
        return str(obj)

    # --- documenting --------------------------------------------------------------------------------------

    def to_yaml(self, key: ObjectKey, obj: O) -> list[Part] | Unexpressible:
        """The desired YAML of a live object; what no spec could say is Unexpressible."""
        return []

    def absent_yaml(self, key: ObjectKey, desired: Desired[O]) -> list[Part] | Unexpressible:
        """The desired YAML saying that the object must not exist (rollback drops what a run created)."""
        return Unexpressible(key, f"the format cannot say that a {self.name} must not exist")

    def export_parts(
        self, specs: Sequence[S], live: Live[O], tables: Sequence[QualifiedName]
    ) -> list[Part | Unexpressible]:
        """``export``: the desired YAML of every live object read for the exported owners (``tables``: the
        exported tables, for kinds that write a section of each even when it is empty)."""
        return _flatten(self.to_yaml(key, obj) for key, obj in sorted(live.objects.items()))

    def record_parts(self, differences: Sequence[Difference], context: PlanContext) -> list[Part | Unexpressible]:
        """The pre-run state of what a plan changes, as desired YAML (rollback applies it again): each changed or
        removed object as it is, each object the plan creates as absent."""
        desired = context.desired.of(self.name)
        return _flatten(
            self.to_yaml(d.key, d.live) if d.live is not None else self.absent_yaml(d.key, desired) for d in differences
        )

    def access_of(self, obj: O) -> Access | None:
        """The owner and privileges of a live object that has them (a run that drops it records them, so that
        a rollback gives them back)."""
        return None

    def items(self, specs: Sequence[S]) -> list[tuple[ObjectKey, Any]]:
        """The objects specs declare, one by one, as the YAML writes them (``plan --base`` compares two revisions
        by them)."""
        return [(spec.key, getattr(spec, "raw", spec)) for spec in specs]


def _flatten(results: Any) -> list[Part | Unexpressible]:
    flat: list[Part | Unexpressible] = []
    for result in results:
        if isinstance(result, Unexpressible):
            flat.append(result)
        else:
            flat += result
    return flat


REGISTRY: dict[str, Kind[Any, Any]] = {}


def register(kind: Kind[Any, Any]) -> Kind[Any, Any]:
    """Add a kind to the registry; a name registered twice is a programming error."""
    if kind.name in REGISTRY:
        raise RuntimeError(f"kind {kind.name!r} registered twice")
    REGISTRY[kind.name] = kind
    return kind


def kind_of(key: ObjectKey) -> Kind[Any, Any]:
    return REGISTRY[key.kind]
