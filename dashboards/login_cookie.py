"""The login cookie: an HTTP-only cookie set by a small route of the dashboard's server, never by page script.

Streamlit scripts cannot set cookies, and a cookie written by JavaScript could be
read by any script on the page. So the login token
(:class:`analysis.login_sessions.LoginSessions`) reaches the browser this way:

1. after a password login, the page gets a **one-time ticket** (random, valid
   60 seconds, kept in this server process only) and runs one line of script that
   posts it to :data:`ROUTE` (same origin, no user data in the script);
2. the route (:func:`session_route`, registered by ``dashboards/server.py``)
   redeems the ticket and answers with ``Set-Cookie: rehabtrack_session=<token>;
   HttpOnly; SameSite=Strict; Path=/; Max-Age=<lifetime>`` (``Secure`` over HTTPS):
   page scripts can never read it, other sites never send it;
3. on a reload the browser sends the cookie with the page's connection and
   :func:`dashboards.auth.current_user` reads it from ``st.context.cookies``.

Logout revokes the token on the server (so a copied cookie is dead too) and asks
the route to delete the cookie (``DELETE``).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from typing import Any

from analysis.login_sessions import SESSION_COOKIE

__all__ = ["ROUTE", "TICKET_SECONDS", "new_ticket", "redeem_ticket", "set_cookie_script", "clear_cookie_script",
           "session_route"]

#: Path of the route that sets and deletes the login cookie.
ROUTE = "/_rehabtrack/session"
#: How long a ticket can be redeemed, seconds.
TICKET_SECONDS = 60.0

_tickets: dict[str, tuple[str, int, float]] = {}  # ticket -> (cookie value, max age s, redeemable until)
_lock = threading.Lock()


def new_ticket(cookie_value: str, max_age_s: int, *, now: float | None = None) -> str:
    """A one-time ticket that :func:`redeem_ticket` exchanges for ``cookie_value`` within :data:`TICKET_SECONDS`."""
    now = time.monotonic() if now is None else now
    ticket = secrets.token_urlsafe(32)
    with _lock:
        for old in [t for t, (_, _, until) in _tickets.items() if until < now]:
            del _tickets[old]
        _tickets[ticket] = (cookie_value, max_age_s, now + TICKET_SECONDS)
    return ticket


def redeem_ticket(ticket: str, *, now: float | None = None) -> tuple[str, int] | None:
    """``(cookie value, max age)`` of a ticket not yet redeemed nor expired; the ticket is spent."""
    now = time.monotonic() if now is None else now
    with _lock:
        found = _tickets.pop(ticket, None)
    if found is None or found[2] < now:
        return None
    return found[0], found[1]


def set_cookie_script(ticket: str) -> str:
    """The script a page runs once after a login: posts the ticket to :data:`ROUTE` (same origin)."""
    body = json.dumps({"ticket": ticket})
    return (f"<script>fetch({json.dumps(ROUTE)}, {{method: 'POST', credentials: 'same-origin', "
            f"headers: {{'Content-Type': 'application/json'}}, body: {json.dumps(body)}}});</script>")


def clear_cookie_script() -> str:
    """The script the login page runs after a logout: asks :data:`ROUTE` to delete the cookie."""
    return f"<script>fetch({json.dumps(ROUTE)}, {{method: 'DELETE', credentials: 'same-origin'}});</script>"


async def session_route(request: Any) -> Any:
    """Starlette endpoint of :data:`ROUTE`: ``POST {"ticket": ...}`` sets the cookie, ``DELETE`` removes it."""
    from starlette.responses import JSONResponse

    secure = request.url.scheme == "https"
    if request.method == "DELETE":
        response = JSONResponse({"ok": True})
        response.delete_cookie(SESSION_COOKIE, path="/", secure=secure, httponly=True, samesite="strict")
    else:
        raw = await request.body()
        try:
            ticket = str(json.loads(raw[:1024]).get("ticket", "")) if len(raw) <= 1024 else ""
        except (ValueError, AttributeError):
            ticket = ""
        found = redeem_ticket(ticket)
        if found is None:
            return JSONResponse({"ok": False}, status_code=403, headers={"Cache-Control": "no-store"})
        value, max_age = found
        response = JSONResponse({"ok": True})
        response.set_cookie(SESSION_COOKIE, value, max_age=max_age, path="/", secure=secure, httponly=True,
                            samesite="strict")
    response.headers["Cache-Control"] = "no-store"
    return response
