"""The kernel FIB as pure logic (issue 17): the desired table, next-hop resolution, reconcile, the F bit."""
