"""Which groups may see an asset: its own groups, else the settings' rules, else nobody."""

from __future__ import annotations

from collections.abc import Iterable

from labsearch.access import PUBLIC_GROUP
from labsearch.settings import Settings


def resolve_groups(
    settings: Settings, source_uri: str, own: Iterable[str] | None, keys: Iterable[str] = ()
) -> list[str]:
    """Groups for an asset.

    `own` are groups the record names itself (ELN access groups, package metadata `groups`);
    they win. Otherwise every access rule whose prefix starts the source URI or any of `keys`
    (package name, ELN project, directory path) contributes its groups. A source listed in
    `public_sources` is visible to every signed-in user. If nothing applies: no groups, so only
    the local operator sees it (fail closed).
    """
    own_groups = [g for g in (own or []) if g]
    if own_groups:
        return sorted(set(own_groups))
    candidates = [source_uri, *keys]
    groups = {
        group
        for rule in settings.access_rules
        if any(candidate.startswith(rule.prefix) for candidate in candidates if candidate)
        for group in rule.groups
    }
    if not groups and any(source_uri.startswith(p) for p in settings.public_sources):
        groups.add(PUBLIC_GROUP)
    return sorted(groups)
