"""Party keys, the project key and linkage keys (DESIGN 2)."""

from linkage.keys.acceptance import accept_project, accepted_facts, check_accepted
from linkage.keys.linkage_key import hmac_pads, linkage_key
from linkage.keys.party import (
    ROLES,
    PartyPublic,
    PartySecret,
    create_party,
    load_party_public,
    load_party_secret,
)
from linkage.keys.project import (
    ProjectManifest,
    as_manifest,
    close_project,
    create_project,
    load_project_key,
    rotate_project_key,
)

__all__ = [
    "ROLES",
    "PartyPublic",
    "PartySecret",
    "ProjectManifest",
    "accept_project",
    "accepted_facts",
    "as_manifest",
    "check_accepted",
    "close_project",
    "create_party",
    "create_project",
    "hmac_pads",
    "linkage_key",
    "load_party_public",
    "load_party_secret",
    "load_project_key",
    "rotate_project_key",
]
