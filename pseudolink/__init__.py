"""pseudolink: the command line and settings that wire the five subsystems together.

Domain logic lives in ``linkage``, ``anonymize``, ``catalog``, ``analysis_env`` and
``open_api``; this package only parses options, finds the workspace and calls them.
"""

__version__ = "0.1.0"
