"""A JupyterHub service that stops the server of anyone whose approval has ended.

Runs every ``--interval`` seconds (at most 30): for each user with a running server,
ask the catalog for an active secure-room approval (which also expires lapsed ones);
without one, stop the server through the hub's API and audit the stop.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

import httpx

from analysis_env.hub import access

log = logging.getLogger("pseudolink.room.revoker")


async def sweep(client: httpx.AsyncClient, api_url: str, database_url: str) -> list[str]:
    """One pass: the names of the users whose servers were stopped."""
    response = await client.get(f"{api_url}/users", params={"state": "active"})
    response.raise_for_status()
    stopped = []
    for user in response.json():
        name = user["name"]
        if await asyncio.to_thread(access.has_access, database_url, name):
            continue
        stop = await client.delete(f"{api_url}/users/{name}/server")
        if stop.status_code in (202, 204):
            await asyncio.to_thread(access.room_stopped, database_url, name,
                                    "no active secure-room approval")
            log.warning("stopped the server of %s: no active secure-room approval", name)
            stopped.append(name)
    return stopped


async def run(api_url: str, token: str, database_url: str, interval: float) -> None:
    headers = {"Authorization": f"token {token}"}
    async with httpx.AsyncClient(headers=headers, timeout=10) as client:
        while True:
            try:
                await sweep(client, api_url, database_url)
            except (httpx.HTTPError, OSError) as exc:
                log.error("revocation sweep failed: %s", exc)
            await asyncio.sleep(interval)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, default=15.0)
    args = parser.parse_args(argv)
    if not 0 < args.interval <= 30:
        parser.error("--interval must be in (0, 30] seconds")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s revoker %(message)s")
    # The hub stops a service with SIGINT, then SIGTERM; either ends it at once, even when
    # SIGINT was ignored by whoever started the hub.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: sys.exit(0))
    asyncio.run(run(os.environ["JUPYTERHUB_API_URL"], os.environ["JUPYTERHUB_API_TOKEN"],
                    os.environ["PSEUDOLINK_DATABASE_URL"], args.interval))
    return 0


if __name__ == "__main__":
    sys.exit(main())
