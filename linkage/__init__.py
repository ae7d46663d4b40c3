"""Privacy-preserving record linkage: prepare at each holder, link at the key manager,
combine at the combination agency (DESIGN 2 and 5).

>>> from linkage import ProjectSpec, prepare, link, combine  # the whole pipeline
"""

from linkage.combine import combine
from linkage.engines import Engine, get_engine
from linkage.envelope import (
    Envelope,
    EnvelopeHeader,
    open_envelope,
    read_envelope,
    seal,
    verify_envelope,
)
from linkage.errors import InputError, LinkageError
from linkage.extract import extract
from linkage.inputs import detect_encoding, read_input
from linkage.keys import (
    PartyPublic,
    PartySecret,
    ProjectManifest,
    accept_project,
    check_accepted,
    close_project,
    create_party,
    create_project,
    linkage_key,
    load_party_public,
    load_party_secret,
    rotate_project_key,
)
from linkage.modes import link, prepare
from linkage.prepare import crosswalk_path
from linkage.quality import LinkageQuality, evaluate_linkage
from linkage.reports import (
    CombineReport,
    ExtractReport,
    HolderRecipeStats,
    LinkReport,
    PrepareReport,
)
from linkage.spec import HolderSpec, ProjectSpec, Recipe

#: Test-data generation needs pandas, which the three parties' stages do not: it loads on
#: first use, so that `prepare`, `link` and `combine` start half a second sooner.
_SYNTHDATA = {"SynthDataReport": "SynthDataReport", "combined_by_truth": "combined_by_truth",
              "generate_synthetic_data": "generate"}


def __getattr__(name: str):
    if name in _SYNTHDATA:
        from linkage import synthdata

        return getattr(synthdata, _SYNTHDATA[name])
    raise AttributeError(f"module 'linkage' has no attribute {name!r}")

__all__ = [
    "CombineReport",
    "Engine",
    "Envelope",
    "EnvelopeHeader",
    "ExtractReport",
    "HolderRecipeStats",
    "HolderSpec",
    "InputError",
    "LinkReport",
    "LinkageError",
    "LinkageQuality",
    "PartyPublic",
    "PartySecret",
    "PrepareReport",
    "ProjectManifest",
    "ProjectSpec",
    "Recipe",
    "SynthDataReport",
    "accept_project",
    "check_accepted",
    "close_project",
    "combine",
    "combined_by_truth",
    "create_party",
    "create_project",
    "crosswalk_path",
    "detect_encoding",
    "evaluate_linkage",
    "extract",
    "generate_synthetic_data",
    "get_engine",
    "link",
    "linkage_key",
    "load_party_public",
    "load_party_secret",
    "open_envelope",
    "prepare",
    "read_envelope",
    "read_input",
    "rotate_project_key",
    "seal",
    "verify_envelope",
]
