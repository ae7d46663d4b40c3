"""A JupyterHub authenticator backed by the catalog: a password, and an active approval.

The approval is checked again on every request older than ``auth_refresh_age``, so a
revoked researcher's browser session ends there; the revocation service stops the
running server itself (``revoker``).
"""

from __future__ import annotations

import asyncio

from jupyterhub.auth import Authenticator
from traitlets import Unicode

from analysis_env.hub import access


class CatalogAuthenticator(Authenticator):
    database_url = Unicode(config=True, help="The catalog's database URL.")

    async def authenticate(self, handler, data):
        user, password = data.get("username", ""), data.get("password", "")
        address = getattr(getattr(handler, "request", None), "remote_ip", None)
        ok, reason = await asyncio.to_thread(access.login, self.database_url, user, password,
                                             address)
        if not ok:
            self.log.warning("secure room login refused for %s: %s", user, reason)
            return None
        return {"name": user}

    def normalize_username(self, username):
        # The catalog's ids are case-sensitive and are the room's identity: JupyterHub's
        # default lowercasing (and ``username_map``) gave ``ResA`` the room of ``resa``.
        return username

    async def refresh_user(self, user, handler=None):
        # False makes JupyterHub ask for a new login, which ``authenticate`` then refuses.
        return await asyncio.to_thread(access.has_access, self.database_url, user.name)
