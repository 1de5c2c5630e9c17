"""rehabtrack: turn back-pain rehabilitation logs into evidence.

The library is a set of small modules named for what they compute:

* :mod:`analysis.schema` - the canonical tables (columns, dtypes, units, ranges);
* :mod:`analysis.exercises` - the exercise vocabulary;
* :mod:`analysis.ingest` - reading CSV / Excel / JSON logs into canonical tables;
* :mod:`analysis.settings` - every clinical threshold with its citation.
"""

__version__ = "0.1.0"
