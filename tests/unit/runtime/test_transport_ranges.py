"""Which options an accepted connection gets (runtime.transport): its own peer's entry,
else the longest dynamic-neighbors prefix holding its address (the key the kernel checked
its SYN with), else none."""

from __future__ import annotations

import asyncio

from gracebgp.core import events as ev
from gracebgp.runtime.transport import Transport


def test_options_of_an_accepted_connection() -> None:
    queue: asyncio.Queue[ev.Input] = asyncio.Queue()
    t = Transport(queue, lambda host: host)
    t.accepting = {"10.0.0.5": ev.SocketOptions(md5_password="own"),
                   "10.0.0.0/16": ev.SocketOptions(md5_password="wide"),
                   "10.0.1.0/24": ev.SocketOptions(md5_password="narrow"),
                   "2001:db8::/32": ev.SocketOptions(ttl=255)}
    assert t.options_key("10.0.0.5") == "10.0.0.5"  # a configured neighbor inside a range
    assert t.options_key("10.0.1.9") == "10.0.1.0/24"  # the longest prefix
    assert t.options_key("10.0.2.9") == "10.0.0.0/16"
    assert t.options_key("2001:db8::7") == "2001:db8::/32"
    assert t.options_key("192.0.2.1") is None and t.options_key("::ffff:10.0.1.9") is None
