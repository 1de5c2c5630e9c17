"""rehabtrack: turn back-pain rehabilitation logs into evidence.

The library is a set of small modules named for what they compute, in layers
(foundations, statistics, data in/out, store, access, reports, cli; the README
lists them and ``tests/test_architecture.py`` keeps them), for example:

* :mod:`analysis.schema` - the canonical tables (columns, dtypes, units, ranges) and ``CohortTables``;
* :mod:`analysis.settings` - every clinical threshold with its citation;
* :mod:`analysis.ingest` - reading CSV / Excel / JSON logs and app exports into canonical tables,
  through :mod:`analysis.importers` (the format dispatcher), :mod:`analysis.tables` (header mapping),
  :mod:`analysis.validation` (the schema-driven checks) and :mod:`analysis.reading` (bytes to a raw table);
* :mod:`analysis.cohort` - one row per patient with every headline;
* :mod:`analysis.access` - every read and user-checked write of the store.
"""

__version__ = "0.1.0"
