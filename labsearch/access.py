"""Who is asking, as the stores see it.

Every store call that reads assets takes an `Access`; there is no default, so forgetting it is a
type error rather than a leak. An asset is visible when its groups intersect the caller's groups.
Fail closed: a caller with no groups sees nothing, and an asset with no groups is seen by nobody
but the local operator.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

PUBLIC_GROUP = "public"


@dataclass(frozen=True)
class Access:
    groups: frozenset[str] = field(default_factory=frozenset)
    operator: bool = False
    user: str | None = None

    @classmethod
    def as_operator(cls) -> Access:
        """The local operator on the CLI: sees everything."""
        return cls(operator=True, user="operator")

    @classmethod
    def for_groups(cls, groups: Iterable[str], user: str | None = None) -> Access:
        """A caller in `groups`. Any caller with at least one group also sees public assets."""
        members = frozenset(g for g in groups if g)
        if members:
            members = members | {PUBLIC_GROUP}
        return cls(groups=members, user=user)

    def can_see(self, asset_groups: Iterable[str]) -> bool:
        return self.operator or not self.groups.isdisjoint(asset_groups)

    @property
    def sees_nothing(self) -> bool:
        return not self.operator and not self.groups
