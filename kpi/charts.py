"""Plotly figure builders: data in, go.Figure out, no Streamlit.

Every chart uses the same fonts (CJK first, installed locally — nothing is fetched), the
same light colours (kpi.catalog.LIGHT_COLOURS) and no map tiles or topojson.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from kpi.catalog import LIGHT_COLOURS, LIGHTS

FONT = "Noto Sans CJK TC, Noto Sans TC, Microsoft JhengHei, PingFang TC, sans-serif"
PALETTE = ["#1f4e79", "#2e86c1", "#76b7e5", "#f39c12", "#8e44ad", "#16a085", "#7f8c8d", "#c0392b"]
TARGET_COLOUR = "#555555"
EXECUTION_LINE = 0.9  # the 90% execution benchmark budget reviews use


def _house_template() -> go.layout.Template:
    """plotly_white with our fonts and colours."""
    template = go.layout.Template(pio.templates["plotly_white"])
    template.layout.font = {"family": FONT, "size": 13}
    template.layout.colorway = PALETTE
    return template


# The house template is Plotly's default in this process: a new figure takes the default
# template without validating it again, where setting one by name on every figure copied
# and validated the whole template (a third of a page's run time).
pio.templates["kpi"] = _house_template()
pio.templates.default = "kpi"


def style(fig: go.Figure, title: str = "", height: int = 360) -> go.Figure:
    """The house style: title, CJK font, white background, compact margins."""
    fig.update_layout(
        title={"text": title, "x": 0, "font": {"size": 16}},
        # Also on the layout itself: Streamlit's chart theme overrides a template's fonts.
        font={"family": FONT, "size": 13},
        colorway=PALETTE,
        height=height,
        margin={"l": 10, "r": 10, "t": 48 if title else 16, "b": 10},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1},
    )
    return fig


def light_grid(
    grid: pd.DataFrame,
    row_labels: dict[str, str],
    col_labels: dict[int, str],
    light_names: dict[str, str],
    title: str,
) -> go.Figure:
    """Rows (goals or indicators) × quarters, each cell coloured by its light with the achievement."""
    rows = list(dict.fromkeys(grid["row"]))
    cols = sorted(col_labels)
    code = {name: i for i, name in enumerate(LIGHTS)}
    # (row, col) -> (light, achievement), the first of any duplicates: one pass over the
    # frame instead of a boolean mask per cell (a mask on Arrow strings costs about 1 ms).
    cells: dict[tuple[object, object], tuple[str, object]] = {}
    for key in zip(grid["row"], grid["col"], grid["light"], grid["achievement"], strict=True):
        cells.setdefault(key[:2], key[2:])
    z, text, hover = [], [], []
    for r in rows:
        zr, tr, hr = [], [], []
        for c in cols:
            lt, ach = cells.get((r, c), ("white", None))
            label = "—" if ach is None or pd.isna(ach) else f"{ach * 100:.1f}%"
            zr.append(code[lt])
            tr.append(label)
            hr.append(f"{row_labels.get(r, r)}<br>{col_labels[c]}: {light_names[lt]} {label}")
        z.append(zr)
        text.append(tr)
        hover.append(hr)
    n = len(LIGHTS)
    scale = []
    for i, name in enumerate(LIGHTS):
        scale += [(i / n, LIGHT_COLOURS[name]), ((i + 1) / n, LIGHT_COLOURS[name])]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[col_labels[c] for c in cols],
            y=[row_labels.get(r, r) for r in rows],
            text=text,
            texttemplate="%{text}",
            hovertext=hover,
            hoverinfo="text",
            colorscale=scale,
            zmin=-0.5,
            zmax=n - 0.5,
            showscale=False,
            xgap=3,
            ygap=3,
            customdata=[[r] * len(cols) for r in rows],
        )
    )
    fig.update_yaxes(autorange="reversed")
    return style(fig, title, height=max(220, 46 * len(rows) + 80))


def achievement_bars(
    labels: Sequence[str],
    achievements: Sequence[float | None],
    lights: Sequence[str],
    ids: Sequence[str],
    title: str,
    axis: str,
) -> go.Figure:
    """Horizontal bars of achievement coloured by light, with the 100% and yellow lines."""
    values = [None if a is None else a * 100 for a in achievements]
    fig = go.Figure(
        go.Bar(
            x=values,
            y=list(labels),
            orientation="h",
            marker_color=[LIGHT_COLOURS[lt] for lt in lights],
            text=["—" if v is None else f"{v:.1f}%" for v in values],
            textposition="outside",
            customdata=list(ids),
            hovertemplate="%{y}: %{text}<extra></extra>",
        )
    )
    fig.add_vline(x=100, line_dash="dash", line_color=TARGET_COLOUR)
    fig.update_xaxes(
        title=axis, ticksuffix="%", range=[0, max([120, *[v or 0 for v in values]]) + 10]
    )
    fig.update_yaxes(autorange="reversed")
    return style(fig, title, height=max(240, 40 * len(labels) + 90))


def ytd_lines(
    quarters: Sequence[str],
    actual: Sequence[float | None],
    target: Sequence[float | None],
    names: tuple[str, str],
    title: str,
    percent: bool = False,
    projection: tuple[int, float] | None = None,
    projection_name: str = "",
) -> go.Figure:
    """A year-to-date indicator against its cumulative targets, quarter by quarter.

    ``projection`` (the index of the quarter it starts from, the year-end value) adds a
    dashed line from that quarter's actual to the projection at the last quarter.
    """
    scale = 100 if percent else 1
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=list(quarters),
            y=[None if v is None else v * scale for v in target],
            name=names[1],
            mode="lines+markers",
            line={"dash": "dot", "color": TARGET_COLOUR},
        )
    )
    fig.add_trace(
        go.Scatter(
            x=list(quarters),
            y=[None if v is None else v * scale for v in actual],
            name=names[0],
            mode="lines+markers",
            line={"color": PALETTE[0], "width": 3},
        )
    )
    if projection is not None:
        start, end = projection
        last = len(quarters) - 1
        if 0 <= start < last and actual[start] is not None:
            fig.add_trace(
                go.Scatter(
                    x=[quarters[start], quarters[last]],
                    y=[actual[start] * scale, end * scale],
                    name=projection_name,
                    mode="lines+markers",
                    line={"dash": "dash", "color": PALETTE[0], "width": 2},
                    marker={"symbol": ["circle", "circle-open"], "size": [1, 9]},
                )
            )
    if percent:
        fig.update_yaxes(ticksuffix="%")
    return style(fig, title, height=300)


def rate_bars(
    frame: pd.DataFrame, x: str, y: str, color: str, title: str, axis: str, line_label: str
) -> go.Figure:
    """Grouped bars of a rate (0–1) with the 90% execution line."""
    fig = go.Figure()
    for i, (name, part) in enumerate(frame.groupby(color, sort=False)):
        fig.add_trace(
            go.Bar(
                x=part[x],
                y=part[y] * 100,
                name=str(name),
                marker_color=PALETTE[i % len(PALETTE)],
                text=[f"{v * 100:.1f}%" if pd.notna(v) else "—" for v in part[y]],
                # Inside the bar's top where it fits: side-by-side labels above bars overlap.
                textposition="auto",
                insidetextanchor="end",
                textangle=0,
                textfont={"size": 11},
            )
        )
    # The benchmark is a legend entry: an annotation on the line collides with the bar labels.
    fig.add_hline(
        y=EXECUTION_LINE * 100,
        line_dash="dash",
        line_color=LIGHT_COLOURS["red"],
        showlegend=True,
        name=line_label,
    )
    fig.update_layout(barmode="group")
    top = max([EXECUTION_LINE * 100, *(frame[y].dropna() * 100)])
    fig.update_yaxes(title=axis, ticksuffix="%", range=[0, top * 1.12])  # room for the labels above
    return style(fig, title, height=380)


def lines(
    frame: pd.DataFrame,
    x: str,
    y: str,
    color: str,
    title: str,
    axis: str,
    percent: bool = False,
    hline: float | None = None,
    hline_label: str = "",
) -> go.Figure:
    """One line per group (e.g. cumulative execution rate by month per 經資門)."""
    scale = 100 if percent else 1
    fig = go.Figure()
    for i, (name, part) in enumerate(frame.groupby(color, sort=False)):
        fig.add_trace(
            go.Scatter(
                x=part[x],
                y=part[y] * scale,
                name=str(name),
                mode="lines+markers",
                line={"color": PALETTE[i % len(PALETTE)]},
            )
        )
    if hline is not None:
        fig.add_hline(
            y=hline * scale,
            line_dash="dash",
            line_color=LIGHT_COLOURS["red"],
            showlegend=bool(hline_label),
            name=hline_label,
        )
    fig.update_yaxes(title=axis, ticksuffix="%" if percent else "", rangemode="tozero")
    return style(fig, title)


def stacked_bars(
    frame: pd.DataFrame, x: str, y: str, color: str, title: str, axis: str, horizontal: bool = False
) -> go.Figure:
    """Bars stacked by a category (visas by month and type; visits by quarter and type)."""
    fig = go.Figure()
    for i, (name, part) in enumerate(frame.groupby(color, sort=False)):
        if horizontal:
            fig.add_trace(
                go.Bar(
                    y=part[x],
                    x=part[y],
                    name=str(name),
                    orientation="h",
                    marker_color=PALETTE[i % len(PALETTE)],
                )
            )
        else:
            fig.add_trace(
                go.Bar(x=part[x], y=part[y], name=str(name), marker_color=PALETTE[i % len(PALETTE)])
            )
    fig.update_layout(barmode="stack")
    if horizontal:
        fig.update_xaxes(title=axis)
        fig.update_yaxes(autorange="reversed")
    else:
        fig.update_yaxes(title=axis)
    return style(fig, title, height=max(360, 24 * frame[x].nunique() + 120) if horizontal else 360)


def bars(
    frame: pd.DataFrame,
    x: str,
    y: str,
    title: str,
    axis: str,
    horizontal: bool = False,
    colour: str | None = None,
    text_format: str = ",.0f",
) -> go.Figure:
    """Plain bars (processing days by mission, visits by country)."""
    text = [("—" if pd.isna(v) else format(v, text_format)) for v in frame[y]]
    if horizontal:
        trace = go.Bar(
            y=frame[x],
            x=frame[y],
            orientation="h",
            text=text,
            textposition="outside",
            marker_color=colour or PALETTE[0],
        )
    else:
        trace = go.Bar(
            x=frame[x],
            y=frame[y],
            text=text,
            textposition="outside",
            marker_color=colour or PALETTE[0],
        )
    fig = go.Figure(trace)
    if horizontal:
        fig.update_xaxes(title=axis)
        fig.update_yaxes(autorange="reversed")
        return style(fig, title, height=max(300, 22 * len(frame) + 110))
    fig.update_yaxes(title=axis)
    return style(fig, title)


def share_donut(
    labels: Sequence[str], values: Sequence[float], title: str, colours: Sequence[str] | None = None
) -> go.Figure:
    """A part-to-whole ring (eVisa share, ally vs non-ally)."""
    fig = go.Figure(
        go.Pie(
            labels=list(labels),
            values=list(values),
            hole=0.55,
            marker={"colors": list(colours) if colours else PALETTE},
            sort=False,
        )
    )
    return style(fig, title, height=300)


def plain_text(values: pd.Series) -> pd.Series:
    """Uploaded text (program, mission, country names) for use as chart labels.

    Plotly renders a subset of HTML in labels (<b>, <br>, <a href=…>); escaped, a name
    shows exactly as written and cannot become markup.
    """
    return values.map(lambda v: html.escape(str(v), quote=False))
