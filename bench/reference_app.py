"""The browser section's yardstick: a Streamlit page with nothing but two small Plotly charts.

What Chromium spends on it (Streamlit's own page, starting Plotly, drawing two charts) is
what any Streamlit page with charts costs on the machine at hand; the overview's time
over it is what the dashboard adds. Served by bench/browser.py, never by the app.
"""

import plotly.graph_objects as go
import streamlit as st

st.title("施政績效儀表板")
st.plotly_chart(go.Figure(go.Bar(x=["第1季", "第2季"], y=[1, 2])))
st.plotly_chart(go.Figure(go.Bar(x=["第1季", "第2季"], y=[2, 1])))
