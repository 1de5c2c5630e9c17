"""Log in: the only page before login; the account's role then decides the pages."""

from __future__ import annotations

import streamlit as st

from dashboards import auth

left, middle, right = st.columns([1, 2, 1])
with middle:
    st.title("rehabtrack")
    st.write("Back-pain rehabilitation logs: your exercise sessions, your pain diary and your progress week by week.")
    auth.login_form()
    if auth.demo_accounts_in_use():
        with st.expander("Demo accounts (synthetic sample data only)"):
            st.markdown(
                "These public accounts only work until a users file is created "
                "(`rehabtrack users add`). The password is the user name followed by `-demo`.\n\n"
                "| user name | role |\n|---|---|\n"
                "| `p001` | patient P001 |\n| `physio_a`, `physio_b` | physiotherapist |\n"
                "| `researcher` | researcher (pseudonymised data) |\n| `admin` | administrator |"
            )
