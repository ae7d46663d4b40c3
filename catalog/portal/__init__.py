"""The researcher portal (issue 16): the catalog's web front door for researchers.

A FastAPI app of server-rendered pages in the officers' language (Korean, English with
``?lang=en``): the data dictionary, drafting and following one's requests, and one's
access (rooms, take-outs, airlock outbox). ``pseudolink serve portal`` runs it.
"""

from catalog.portal.app import POLICY, OutboxReader, create_app

__all__ = ["POLICY", "OutboxReader", "create_app", "serve"]


def serve(database_url: str, *, host: str = "127.0.0.1", port: int = 8600,
          **options: object) -> None:
    """Run the portal with uvicorn until stopped."""
    import uvicorn

    uvicorn.run(create_app(database_url, **options), host=host, port=port,  # type: ignore[arg-type]
                log_level="warning", proxy_headers=False)
