"""SkyProphet: flight-delay prediction on a Feast feature store.

The code is layered, lowest first, and each layer imports only from those below it:

1. ``skyprophet.core``: settings, keys and domain types, transforms, model spec, errors;
2. ``feature_repo``: the Feast definitions;
3. ``skyprophet.adapters``: store construction, the online reader, tracking, parquet I/O;
4. ``pipelines`` (batch stages) and ``serving`` (the API), which never import each other;
5. ``skyprophet.cli`` (the ``skyprophet`` command) and ``benchmarks``, imported by nothing.
"""

from skyprophet.core.imports import feast_without_type_checks

feast_without_type_checks()
