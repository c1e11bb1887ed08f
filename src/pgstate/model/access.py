"""The owner and privileges of an object pgstate may drop and create (a function, a view): not in the format,
so kept apart, to be given back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Access:
    owner: str
    grants: tuple[str, ...] | None  # as the catalog queries list them; None: the defaults

    def to_json(self) -> dict[str, Any]:
        return {"owner": self.owner, "grants": list(self.grants) if self.grants is not None else None}

    @staticmethod
    def from_json(data: dict[str, Any]) -> Access:
        grants = data.get("grants")
        return Access(str(data["owner"]), tuple(grants) if grants is not None else None)
