"""gracebgp-bfdd: BFD in a timing domain of its own, beside gracebgpd.

A small process (``server``) that owns the BFD UDP sockets and sessions, so a busy
gracebgpd never delays a BFD packet and a planned re-exec of gracebgpd never stops them:
the new gracebgpd connects to the same Unix socket and adopts the running sessions. Since
its BFD does not share fate with the BGP process, it sets the C bit (RFC 5880 §4.1).
``protocol`` is the line format on that socket, ``client`` gracebgpd's end of it.
"""
