"""rehabtrack: turn back-pain rehabilitation logs into evidence.

The library is a set of small modules named for what they compute:

* :mod:`analysis.schema` - the canonical tables (columns, dtypes, units, ranges) and ``CohortTables``;
* :mod:`analysis.exercises` - the exercise vocabulary;
* :mod:`analysis.ingest` - reading CSV / Excel / JSON logs and app exports into canonical tables,
  through :mod:`analysis.importers` (the format dispatcher), :mod:`analysis.tables` (header mapping),
  :mod:`analysis.validation` (the schema-driven checks) and :mod:`analysis.reading` (bytes to a raw table);
* :mod:`analysis.settings` - every clinical threshold with its citation.
"""

__version__ = "0.1.0"
