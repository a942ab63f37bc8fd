"""The routing-policy commands (core.policy_commands): a new book or a neighbor's own
apply-policy applied through the command path, with the rebind report, no session reset,
and a book that drops a policy a neighbor still names refused (409)."""

from __future__ import annotations

import json
from dataclasses import replace

from gracebgp.config.policy_source import PolicySource
from gracebgp.core import commands as cmd
from gracebgp.core.policy_commands import ReplacePolicyBook, SetPeerPolicy
from gracebgp.core.speaker import Speaker
from gracebgp.policy import ApplyPolicy, Policy, Statement
from gracebgp.runtime.recorder import _registry, decode, encode

from .test_policy_wiring import COMM, REJECT, A, B, M, book, learned, pods_lp200, tag_and_prepend, triangle

DENY = Policy("deny", (Statement("all", (), (), REJECT),))


def _ups(m: Speaker) -> dict[str, int]:
    return {p.address: p.stats.established_count for p in m.peers.values()}


def test_replace_book_reruns_policies_and_replies_with_the_report() -> None:
    net, m, _, b = triangle(book((pods_lp200(),)))
    ups = _ups(m)
    reply = net.command(M,
                        ReplacePolicyBook(book(export=(tag_and_prepend(),)), "added policy x"))
    assert reply.status == 200, reply.message
    assert reply.message.startswith("added policy x: ") and "no session reset" in reply.message
    changed = {(r["peer"], r["family"]): r for r in reply.result["changed"]}
    assert changed[(A, "ipv4-unicast")]["import_changed"] == 2
    assert changed[(B, "ipv4-unicast")]["export_changed"] == 2
    assert set(learned(b)) == {"10.1.1.0/24", "10.9.0.0/24"}
    assert all(COMM in p.attrs.communities for p in learned(b).values())
    assert _ups(m) == ups
    notices = [n for _, n in net.notices if n.kind == "command"]
    assert notices and notices[-1].data == {"command": "ReplacePolicyBook"}


def test_set_peer_policy_applies_to_that_peer_only_and_clearing_restores_the_global_one() -> None:
    net, m, _, b = triangle(book(extra=(DENY,)))
    ups = _ups(m)
    assert set(learned(b)) == {"10.1.1.0/24", "10.9.0.0/24"}
    reply = net.command(M, SetPeerPolicy(B, ApplyPolicy(export_policies=("deny",))))
    assert reply.status == 200, reply.message
    assert [r["peer"] for r in reply.result["changed"]] == [B]
    assert reply.result["changed"][0]["export_changed"] == 2
    assert learned(b) == {}
    assert m.peers[B].settings.apply_policy == ApplyPolicy(export_policies=("deny",))
    reply = net.command(M, SetPeerPolicy(B, None))
    assert reply.status == 200 and "cleared" in reply.message
    assert m.peers[B].settings.apply_policy is None
    assert set(learned(b)) == {"10.1.1.0/24", "10.9.0.0/24"}
    assert _ups(m) == ups


def test_a_book_without_a_policy_a_neighbor_names_is_refused_409_and_nothing_changes() -> None:
    net, m, _, _ = triangle(book(extra=(DENY,)))
    m.peers[B].settings = replace(m.peers[B].settings, apply_policy=ApplyPolicy(export_policies=("deny",)))
    before = m.policy_book
    reply = net.command(M, ReplacePolicyBook(book(), "deleting policy-definition deny"))
    assert reply.status == 409
    assert reply.message == (f"deleting policy-definition deny refused: neighbor {B}'s apply-policy "
                             "still names policy 'deny' (change that apply-policy first)")
    assert m.policy_book is before


def test_bad_peer_policy_requests_are_refused() -> None:
    net, m, _, _ = triangle(book())
    reply = net.command(M, SetPeerPolicy("127.0.0.99", None))
    assert reply.status == 404 and "127.0.0.99" in reply.message
    reply = net.command(M, SetPeerPolicy(B, ApplyPolicy(import_policies=("nope",))))
    assert reply.status == 400 and "'nope'" in reply.message
    assert m.peers[B].settings.apply_policy is None


def test_the_commands_are_in_the_command_union_and_survive_a_recording() -> None:
    assert {"ReplacePolicyBook", "SetPeerPolicy"} <= set(_registry())
    assert ReplacePolicyBook in cmd.Command.__args__
    level = SetPeerPolicy(B, ApplyPolicy(("a",), ("b",), REJECT, None))
    assert decode(encode(level)) == level


def test_a_replaced_book_is_recorded_as_its_source_and_compiled_again_on_replay() -> None:
    source = PolicySource().with_set("prefix", {"name": "pods", "prefix_list": [{"ip_prefix": "10.0.0.0/8"}]})
    command = ReplacePolicyBook(source.build(), "prefix-set pods")
    back = decode(json.loads(json.dumps(encode(command))))
    assert isinstance(back, ReplacePolicyBook) and back.what == "prefix-set pods"
    assert back.book.source == source and list(back.book.sets.prefix_sets) == ["pods"]
