"""The dashboard's server: the Streamlit app plus the route that sets the HTTP-only login cookie.

``streamlit run dashboards/server.py`` (what ``./run.sh`` and ``rehabtrack dashboard`` do)
serves ``dashboards/app.py`` and :data:`dashboards.login_cookie.ROUTE`
(:func:`dashboards.login_cookie.session_route`). Running ``streamlit run
dashboards/app.py`` still works, without logins that survive a reload.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st
from starlette.routing import Route

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the same `dashboards` package the app's pages import
    sys.path.insert(0, str(ROOT))

from dashboards.login_cookie import ROUTE, session_route  # noqa: E402

app = st.App(Path(__file__).with_name("app.py"), routes=[Route(ROUTE, session_route, methods=["POST", "DELETE"])])
