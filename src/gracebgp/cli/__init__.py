"""The ``gracebgp`` command line (layer L5): it talks to gracebgpd only through
:mod:`gracebgp.api.client`, so a script can do whatever the CLI does."""
