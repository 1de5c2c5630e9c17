"""The dashboard's server: the Streamlit app plus the route that sets the HTTP-only login cookie.

``streamlit run dashboards/server.py`` (what ``./run.sh`` and ``rehabtrack dashboard`` do)
serves ``dashboards/app.py`` and :data:`dashboards.login_cookie.ROUTE`
(:func:`dashboards.login_cookie.session_route`). Running ``streamlit run
dashboards/app.py`` still works, without logins that survive a reload.

When the server starts, a background thread opens the store, seeds an empty one with the
sample cohort and imports the pages' modules (:func:`dashboards.state.warm_up`), so the
login page is served at once and the first login does not wait for the seeding.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import streamlit as st
from starlette.routing import Route

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the same `dashboards` package the app's pages import
    sys.path.insert(0, str(ROOT))

from dashboards.login_cookie import ROUTE, session_route  # noqa: E402


def _warm_up() -> None:  # the store seeded and the analysis modules loaded while the login page is served
    from dashboards import state

    state.warm_up()


threading.Thread(target=_warm_up, name="rehabtrack-warm-up", daemon=True).start()

app = st.App(Path(__file__).with_name("app.py"), routes=[Route(ROUTE, session_route, methods=["POST", "DELETE"])])
