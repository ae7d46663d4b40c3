"""Doctest collection: the console script needs Streamlit, an optional dependency."""

import importlib.util

collect_ignore = [] if importlib.util.find_spec("streamlit") else ["console/app.py"]
