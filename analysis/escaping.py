r"""Text made safe for where it goes: spreadsheet cells and the dashboard's Markdown and HTML.

* **Formula injection.** A spreadsheet opens a cell that starts with ``=``,
  ``+``, ``-``, ``@``, a tab or a carriage return as a formula (OWASP "CSV
  injection"); :func:`neutralise_formulas` prefixes such text cells with an
  apostrophe. :mod:`analysis.export` applies it to every CSV and Excel file it writes.
* **Display.** :func:`escape_text` (HTML) and :func:`escape_markdown` make text a
  user wrote safe to show in the dashboard.
* **Charts and PDF reports.** matplotlib parses text between two ``$`` as
  math text (a TeX subset): an exercise named ``$\undefinedmacro{$`` stops the
  drawing of a whole figure. :func:`escape_plot_text` escapes every ``$`` so
  that the text is drawn exactly as written; every string from data that
  :mod:`analysis.plots`, :mod:`analysis.plots_expected` and
  :mod:`analysis.report_pdf` draw (exercise names, patient and physio IDs,
  labels, titles) goes through it, and any other renderer of rehabtrack data
  with matplotlib must call it too. rehabtrack never turns on matplotlib's
  ``text.usetex`` (LaTeX rendering), under which no escaping of this kind is safe.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pandas as pd

__all__ = [
    "FORMULA_TRIGGERS", "neutralise_cell", "neutralise_formulas", "escape_text", "escape_markdown",
    "escape_plot_text",
]

#: First characters that make a spreadsheet read a cell as a formula (OWASP CSV injection: ``= + - @``,
#: tab, carriage return) and their full-width forms, which some spreadsheet locales also accept.
FORMULA_TRIGGERS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def neutralise_cell(value: Any) -> Any:
    """Prefix a text value that a spreadsheet would run as a formula with an apostrophe.

    Parameters
    ----------
    value
        Any cell value; only ``str`` values are changed.

    Returns
    -------
    object
        ``"'" + value`` when ``value`` is a string starting with one of
        :data:`FORMULA_TRIGGERS`, else ``value`` unchanged.
    """
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells (and column names) cannot run as spreadsheet formulas.

    Parameters
    ----------
    frame
        Any table.

    Returns
    -------
    pandas.DataFrame
        Same shape, index and dtypes; in every text column (``string`` or
        ``object`` dtype) each string starting with ``=``, ``+``, ``-``, ``@``,
        tab or carriage return (or their full-width forms) gets a leading
        apostrophe (``=1+1`` becomes ``'=1+1``), as recommended by OWASP.
        Numeric, boolean and datetime columns are unchanged (a negative number
        is a number, not a formula).
    """
    out = frame.copy()
    for name in out.columns:
        col = out[name]
        if isinstance(col.dtype, pd.StringDtype):
            risky = col.str.startswith(FORMULA_TRIGGERS).fillna(False).to_numpy(dtype=bool)
            if risky.any():
                out[name] = col.mask(risky, "'" + col)
        elif col.dtype == object:
            out[name] = col.map(neutralise_cell)
    out.columns = [neutralise_cell(str(c)) if isinstance(c, str) else c for c in out.columns]
    return out


def escape_text(value: Any) -> str:
    """Text a user wrote, safe to put inside HTML.

    Parameters
    ----------
    value
        Any value; missing values (``None``, ``NaN``, ``<NA>``) give ``""``.

    Returns
    -------
    str
        ``&``, ``<``, ``>``, ``"`` and ``'`` replaced by HTML entities
        (:func:`html.escape` with ``quote=True``).
    """
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return html.escape(str(value), quote=True)


def escape_markdown(value: Any) -> str:
    r"""Text a user wrote, safe to pass to ``st.markdown``: Markdown and HTML characters backslash-escaped.

    Parameters
    ----------
    value
        Any value; missing values give ``""``.

    Returns
    -------
    str
        Every character with a meaning in Markdown (``\ ` * _ { } [ ] ( ) # + - . ! | < > ~ $ :``)
        preceded by a backslash, so ``[x](javascript:...)`` or ``<script>`` show as written.
    """
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(value))


def escape_plot_text(value: Any) -> str:
    r"""Text a user wrote, safe to give matplotlib: drawn as written, never parsed as math text.

    Parameters
    ----------
    value
        Any value; missing values give ``""``.

    Returns
    -------
    str
        The text with every ``$`` written ``\$``: matplotlib then sees no math
        text and draws each ``\$`` as ``$``, so ``$\undefinedmacro{$`` appears
        exactly like that (with the default ``text.parse_math = True`` and
        ``text.usetex = False``).

    Examples
    --------
    >>> escape_plot_text("knee $x$")
    'knee \\$x\\$'
    >>> escape_plot_text(None)
    ''
    """
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return str(value).replace("$", r"\$")
