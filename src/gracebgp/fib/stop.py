"""What happens to our kernel routes when gracebgpd stops, per way of stopping.

Spec section 6 and section 7; RFC 4724 §4 (a restart keeps forwarding). The order of
``stop --withdraw`` is: withdraw from the peers, wait until the withdrawals have left the
sockets, then delete our kernel routes. The other order loses more: with our routes gone
first, the peers still send us the traffic of the prefixes they have not yet withdrawn
and it meets no route here (or the default route: a loop or a black hole), while
withdrawing first lets the peers move the traffic to another path while we still forward
whatever they send until they have.

    how it stops                           BGP                          kernel routes
    -------------------------------------  ---------------------------  -----------------
    gracebgp restart                       GR: sessions closed, kept    kept
    gracebgp stop --retain, SIGTERM        GR: sessions closed, kept    kept
      with sigterm = retain
    crash, SIGKILL                         nothing sent (helper keeps)  kept (no code runs)
    gracebgp stop --withdraw, SIGINT,      withdrawn (Cease / Hard      deleted, after the
      SIGTERM with sigterm = withdraw      Reset)                       withdrawals left
    FIB retention off (fib-retain false)   as asked                     deleted at any stop

The daemon carries this out itself (``daemon.py``: sessions closed or withdrawn, then
``runtime.fibdriver.FibDriver.stop(withdraw)``, which deletes or keeps our routes); this
module is the table only (it held an unused ``stop_steps`` until the review of issue 17).
"""
