"""rehabtrack dashboard: `streamlit run dashboards/app.py` (or `./run.sh`).

After login the user's role decides which pages exist (:data:`dashboards.auth.ROLE_PAGES`):
a patient gets "My progress" and "Upload my log", a physio the caseload and the
patient detail, a researcher the pseudonymised cohort, an administrator the physio
and researcher pages. Before login only the login page exists. Pages of another
role are not registered, so they cannot be opened by URL in this session.
"""

from __future__ import annotations

import logging
import os
import sys
import uuid
from pathlib import Path

import streamlit as st

# Make `analysis` and `dashboards` importable when run as a script from anywhere.
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from dashboards import auth  # noqa: E402  (not `state`: the login page needs no analysis modules)

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

st.set_page_config(page_title="rehabtrack", page_icon=":material/monitoring:", layout="wide")

PAGES = Path(__file__).parent / "views"


def _not_installed() -> None:
    st.title("Nothing to show yet")
    st.info("The pages of your account are not installed in this version of rehabtrack. "
            "Ask the administrator.")


def _navigation_pages(user: auth.User | None) -> list[st.Page]:
    specs = [s for s in auth.pages_for(user) if (PAGES / s.file).exists()]
    if not specs:
        return [st.Page(_not_installed, title="rehabtrack", icon=":material/info:", default=True)]
    has_default = any(s.default for s in specs)
    return [st.Page(PAGES / s.file, title=s.title, icon=s.icon, default=s.default or (not has_default and i == 0))
            for i, s in enumerate(specs)]


#: On a narrow screen (Streamlit's phone layout, <= 768 px) the menu is a drawer over the page: close it once a
#: page was chosen, so that the page shows instead of the menu. One listener per browser tab.
CLOSE_MENU_ON_PHONE = """<script>
if (!window.rehabtrackMenuCloses) {
  window.rehabtrackMenuCloses = true;
  document.addEventListener("click", (event) => {
    if (window.innerWidth > 768 || !event.target.closest('[data-testid="stSidebarNavLink"]')) return;
    setTimeout(() => {
      const close = document.querySelector('[data-testid="stSidebarCollapseButton"] button');
      if (close) close.click();
    }, 80);
  }, true);
}
</script>"""

user = auth.current_user()
navigation = st.navigation(_navigation_pages(user), position="sidebar" if user else "hidden")
if user is not None:
    auth.account_box(user)
    with st.sidebar:
        st.html(CLOSE_MENU_ON_PHONE, unsafe_allow_javascript=True, width="content")
try:
    navigation.run()
except Exception:  # a bug, not the user's doing: no traceback on screen, the details go to the log
    if os.environ.get("REHABTRACK_DEBUG", "").strip() in ("1", "true", "yes"):
        raise
    incident = uuid.uuid4().hex[:8]
    logging.getLogger("dashboards").exception("page %r failed (incident %s)", navigation.title, incident)
    st.error(f"Something went wrong while showing this page (incident {incident}). Your data are safe. "
             "Reload the page; if it happens again, tell the administrator the incident number.")
