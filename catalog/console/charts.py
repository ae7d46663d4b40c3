"""The console's charts as Altair specs: numeric axes for numbers, failing bars in red.

Streamlit's ``bar_chart`` draws class sizes 1, 2, 5, 40 as evenly spaced categories,
which hides how far apart they are, and its ``line_chart`` draws nothing for a single
spend. Altair lets the axes be quantitative and every spend be a visible point.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

FAIL, PASS = "#d62728", "#1f77b4"


def _colour(flag: str) -> alt.Color:
    return alt.Color(f"{flag}:N", scale=alt.Scale(domain=[False, True], range=[PASS, FAIL]),
                     legend=None)


def class_sizes(table: pd.DataFrame, k: int, x_title: str, y_title: str) -> alt.Chart:
    """Classes per size on a numeric size axis; sizes below ``k`` in red."""
    data = table.assign(below_k=table["class size"] < k)
    return alt.Chart(data).mark_bar(size=14).encode(
        x=alt.X("class size:Q", title=x_title, scale=alt.Scale(domainMin=0)),
        y=alt.Y("classes:Q", title=y_title, axis=alt.Axis(tickMinStep=1)), color=_colour("below_k"),
        tooltip=["class size", "classes", "records"])


def risk_per_record(table: pd.DataFrame, x_title: str, y_title: str) -> alt.Chart:
    """Records per prosecutor risk on a 0..1 axis; risks above the threshold in red."""
    return alt.Chart(table).mark_bar(size=14).encode(
        x=alt.X("risk:Q", title=x_title, scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("records:Q", title=y_title, axis=alt.Axis(tickMinStep=1)),
        color=_colour("above threshold"),
        tooltip=["risk", "records"])


def spend(table: pd.DataFrame, labels: dict[str, str], x_title: str) -> alt.Chart:
    """Spent and remaining epsilon after each spend, as lines with a point per spend."""
    long = table[["time", "spent", "remaining"]].melt(id_vars=["time"],
                      var_name="series", value_name="epsilon")
    long["series"] = long["series"].map(labels)
    return alt.Chart(long).mark_line(point=True).encode(
        x=alt.X("time:T", title=x_title, axis=alt.Axis(format="%m-%d %H:%M")),
        y=alt.Y("epsilon:Q", title="ε"), color=alt.Color("series:N", title=None),
        tooltip=["time", "series", "epsilon"])
