"""The operator API: ``schema`` (L0 values), ``service`` (L3, pure), ``server`` and
``client`` (L4, HTTP). See docs/api.md."""
