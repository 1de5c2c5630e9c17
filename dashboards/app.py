"""rehabtrack dashboard: `streamlit run dashboards/app.py` (or `./run.sh`)."""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

# Make `analysis` and `dashboards` importable when run as a script from anywhere.
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

st.set_page_config(page_title="rehabtrack", page_icon=":material/monitoring:", layout="wide")

PAGES = Path(__file__).parent / "pages"
navigation = st.navigation(
    [
        st.Page(PAGES / "cohort.py", title="Cohort weeks", icon=":material/groups:", default=True),
        st.Page(PAGES / "patient.py", title="Patient weeks", icon=":material/person:"),
    ]
)
navigation.run()
