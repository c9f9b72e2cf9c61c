"""Source adapters: each reads one format into the data contract (``skyprophet.core.contract``).

``nycflights13`` (the default), ``bts`` (the US DOT on-time CSVs, both header styles), ``scl``
(the original SkyProphet Santiago format) for flights; ``iem-asos`` for weather; ``airportsdata``
completes any airports file. ``spec`` says which format and files each table comes from.
"""
