"""The privacy officers' console (Streamlit): ``pseudolink serve console`` runs ``app.py``.

Importing this package does not import Streamlit; only ``app.py`` does.
"""

from pathlib import Path

APP = Path(__file__).parent / "app.py"

__all__ = ["APP"]
