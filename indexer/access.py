"""Which groups may see an asset: its own groups, else the settings' rules, else nobody.

An asset records where its groups came from (`Asset.rule_keys`): None when the record named its
own groups, else the strings the rules were matched against. Indexing (`resolve_groups`) and
re-applying changed rules to stored assets (indexer/regroup.py) both compute rule-derived groups
with `rule_groups`, so the two can never disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from labsearch.access import PUBLIC_GROUP
from labsearch.settings import Settings


@dataclass(frozen=True)
class GroupGrant:
    """An asset's groups and their origin.

    `rule_keys` is None when the record named its own groups (they win, and changed rules never
    touch them); otherwise it lists the source URI and keys the rules were matched against.
    """

    groups: tuple[str, ...]
    rule_keys: tuple[str, ...] | None

    def asset_fields(self) -> dict[str, Any]:
        """`groups` and `rule_keys` as Asset fields: `Asset(..., **grant.asset_fields())`."""
        keys = None if self.rule_keys is None else list(self.rule_keys)
        return {"groups": list(self.groups), "rule_keys": keys}


def resolve_groups(
    settings: Settings, source_uri: str, own: Iterable[str] | None, keys: Iterable[str] = ()
) -> GroupGrant:
    """Groups for an asset, with their origin.

    `own` are groups the record names itself (ELN access groups, package metadata `groups`);
    they win. Otherwise the groups come from `rule_groups` over the source URI and `keys`
    (package name, ELN project, directory path).
    """
    own_groups = [g for g in (own or []) if g]
    if own_groups:
        return GroupGrant(tuple(sorted(set(own_groups))), None)
    candidates = tuple(dict.fromkeys(c for c in (source_uri, *keys) if c))
    return GroupGrant(tuple(rule_groups(settings, source_uri, candidates)), candidates)


def rule_groups(settings: Settings, source_uri: str, rule_keys: Sequence[str]) -> list[str]:
    """Groups the settings give an asset of `source_uri` whose rule keys are `rule_keys`.

    Every access rule whose prefix starts any rule key contributes its groups. A source listed
    in `public_sources` is visible to every signed-in user. If nothing applies: no groups, so
    only the local operator sees it (fail closed).
    """
    groups = {
        group
        for rule in settings.access_rules
        if any(key.startswith(rule.prefix) for key in rule_keys if key)
        for group in rule.groups
    }
    if not groups and any(source_uri.startswith(p) for p in settings.public_sources):
        groups.add(PUBLIC_GROUP)
    return sorted(groups)
