"""The F bit told truthfully: "forwarding state preserved" only when this start found the
routes that the previous run installed in this same kernel and network namespace.

RFC 4724 §3: the Forwarding State bit "can be used to indicate whether the forwarding
state for routes that were advertised with the given AFI and SAFI has indeed been
preserved during the previously held BGP session"; spec section 4 and section 7.

The previous run leaves a marker (``render``) in its state directory: the kernel's boot
id and the network namespace's inode, and the families whose routes it installed. The
runtime reads the marker and the current identity; ``forwarding_state`` decides:

    FIB      marker                          ->  F    reason
    ----     ------                              --   ------------------------------------
    off      any                                 cfg  the configured default (no kernel routes)
    on       none                                0    first start: nothing was installed
    on       other boot id                       0    the kernel rebooted: routes are gone
    on       other netns inode                   0    another network namespace
    on       same, family not installed by it    0    the previous run had no FIB for it
    on       same, family installed, 0 adopted   0    nothing of ours is in the kernel
    on       same, family installed, N > 0       1    adopted N routes of our protocol

The identity alone is not proof (a namespace's inode can be reused, a previous run may
have crashed before installing anything, or deleted its routes): F=1 also needs routes of
ours found in the kernel for the family. The marker is removed when our routes are
deleted at a stop and written again at a stop that keeps them.
"""

from __future__ import annotations

from dataclasses import dataclass

from gracebgp.types import Family, family_name


@dataclass(frozen=True, slots=True)
class Identity:
    """Where kernel routes live: the boot (``/proc/sys/kernel/random/boot_id``) and the
    network namespace (the inode of ``/proc/self/ns/net``)."""

    boot_id: str
    netns: int


@dataclass(frozen=True, slots=True)
class Marker:
    """What the previous run installed into: its identity and the families it programmed."""

    identity: Identity
    families: frozenset[str]


def render(marker: Marker) -> str:
    """The marker file's text: ``key=value`` lines."""
    return (f"boot_id={marker.identity.boot_id}\nnetns={marker.identity.netns}\n"
            f"families={','.join(sorted(marker.families))}\n")


def parse(text: str) -> Marker | None:
    """The marker of ``render``'s text; None when it is not one (then F=0)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep:
            fields[name.strip()] = value.strip()
    try:
        identity = Identity(fields["boot_id"], int(fields["netns"]))
    except (KeyError, ValueError):
        return None
    if not identity.boot_id:
        return None
    names = frozenset(n for n in fields.get("families", "").split(",") if n)
    return Marker(identity, names)


def forwarding_state(family: Family, fib_on: bool, configured: bool, now: Identity | None,
                     previous: Marker | None, adopted: int) -> tuple[bool, str]:
    """(F for ``family``, why) by the table in the module's docstring. ``configured``: the
    configured default used without the FIB; ``adopted``: routes of our protocol found."""
    if not fib_on:
        return configured, f"FIB off: F={int(configured)} as configured (no kernel routes are programmed)"
    name = family_name(family)
    if previous is None or now is None:
        return False, "FIB on, no marker of a previous run in this state directory: nothing was preserved"
    if previous.identity.boot_id != now.boot_id:
        return False, "FIB on, the kernel rebooted since the previous run (boot id differs)"
    if previous.identity.netns != now.netns:
        return False, "FIB on, the previous run installed into another network namespace"
    if name not in previous.families:
        return False, f"FIB on, the previous run did not install {name} routes"
    if adopted <= 0:
        return False, f"FIB on, no {name} route of ours in the kernel: nothing was preserved"
    return True, f"FIB on, same kernel and namespace: {adopted} {name} routes of the previous run adopted"
