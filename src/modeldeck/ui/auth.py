"""Who may use a served UI: loopback needs no login; any other address needs $MODELDECK_API_KEY.

Light on purpose (no gradio): both ``modeldeck.cli.ui`` and ``modeldeck.ui.app`` import it,
so neither has to import the other's module (the CLI imports the UI, never the reverse).
"""

from __future__ import annotations

import hmac
import ipaddress
import os

API_KEY_ENV = "MODELDECK_API_KEY"


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` binds only this machine ("" binds every address: not loopback)."""
    host = (host or "").strip()
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def key_auth(key: str):
    """Gradio auth: any user name, the API key as the password."""

    def check(user: str, password: str) -> bool:
        return hmac.compare_digest(password.encode(), key.encode())

    return check


def serve_auth(host: str | None, auth=None):
    """The login for serving on ``host``: None on loopback; elsewhere ``auth`` if given, else
    $MODELDECK_API_KEY as the password. Refuses (InvalidInput) to serve other machines without one."""
    if is_loopback(host):
        return auth
    if auth:
        return auth
    key = os.environ.get(API_KEY_ENV, "")
    if not key.strip():  # unset, empty or only spaces: a password anyone can type is no password
        from ..errors import InvalidInput

        state = "is only whitespace" if key else "is not set"
        raise InvalidInput(
            f"Binding {host!r} would let other machines use this UI, and {API_KEY_ENV} {state}; set it to "
            "a secret first (it becomes the login password).",
            "Or keep the default --host 127.0.0.1.",
        )
    return key_auth(key)
