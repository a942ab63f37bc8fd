"""BGP as a service: a session proxy between tenant VMs and control nodes (issue 20).

Pure parts (no I/O): ``placement`` (which control node takes a session, which NAT source
port it uses), ``routes`` (each side's routes as the proxy saw them), ``relay`` (one
proxied session: framing, records, options, re-homing). The asyncio daemon
(``gracebgp-proxyd``) lives in ``server``.
"""
