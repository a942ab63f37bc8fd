"""A round of several peers looks up the Loc-RIB entries of its keys once (``found``):
nothing a peer's turn does changes the Loc-RIB before the next peer's, and what each peer
gets per prefix is that prefix's route."""

from __future__ import annotations

from typing import Any

import pytest

from gracebgp.config.default import demo_configs
from gracebgp.rib.adj_rib_out import AdjRibOut
from gracebgp.rib.loc_rib import LocRib
from gracebgp.types import IPV4_UNICAST

from .net import SpeakerNet
from .test_speaker import speaker_from


def neighbor(address: str, asn: int) -> str:
    return (f'\n[[neighbors]]\n  [neighbors.config]\n    neighbor-address = "{address}"\n'
            f'    peer-as = {asn}\n  [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n'
            f'      afi-safi-name = "ipv4-unicast"\n')


C_TEXT = '[global.config]\n  as = 65003\n  router-id = "127.0.0.3"\n' + neighbor("127.0.0.2", 65002)
TO_C = neighbor("127.0.0.3", 65003)


def test_a_round_of_two_peers_gives_each_prefix_its_own_route(monkeypatch: pytest.MonkeyPatch) -> None:
    consider = AdjRibOut.consider
    rounds: list[int] = []

    def checked(self: AdjRibOut, keys: Any, loc: LocRib, again: bool = False, before: Any = None,
                found: Any = None) -> None:
        if found is not None:  # the entries are still the Loc-RIB's at this peer's turn
            assert found.keys is keys and [loc.entries.get(k) for k in keys] == found.entries
            rounds.append(len(keys))
        consider(self, keys, loc, again, before, found)

    monkeypatch.setattr(AdjRibOut, "consider", checked)
    a_text, b_text = demo_configs(1179, 1180, "/tmp/gracebgp-test-found")
    a_text += "".join(f'\n[[gracebgp.routes]]\nprefix = "203.0.113.{4 * i}/30"\ncommunities = ["65001:{i}"]\n'
                      for i in range(1, 9))  # (each prefix its own attribute set)
    net = SpeakerNet()
    a = net.add("127.0.0.1", speaker_from(a_text))
    b = net.add("127.0.0.2", speaker_from(b_text + TO_C))  # two Adj-RIBs-Out: A's and C's
    c = net.add("127.0.0.3", speaker_from(C_TEXT))
    net.run()
    assert any(n > 1 for n in rounds)  # B's round of A's routes went to A and C with ``found``
    mine = {k: cand[1].attrs.communities for k, cand in a.loc[IPV4_UNICAST].items()}
    got = {k: cand[1].attrs.communities for k, cand in c.loc[IPV4_UNICAST].items() if k in mine}
    assert len(mine) > 8 and got == mine
    assert b.loc[IPV4_UNICAST].keys()
