"""計畫與指標 — the plan tree and the indicator catalogue."""

from __future__ import annotations

import streamlit as st

from pages.common import engine

eng = engine()
plan = eng.plan(st.session_state.get("year"))
st.title(f"{plan.year}年度施政計畫 {plan.agency}".strip())
counts = plan.counts()
cols = st.columns(5)
for col, (label, key) in zip(
    cols,
    [("施政目標", "goals"), ("策略", "strategies"), ("工作計畫", "programs"), ("重要計畫項目", "items"), ("實施內容", "actions")],
    strict=True,
):
    col.metric(label, counts[key])

left, right = st.columns(2)
with left:
    st.subheader("年度施政目標及策略")
    for goal in plan.goals:
        with st.expander(f"{goal.id}　{goal.title}"):
            for s in goal.strategies:
                st.text(f"{s.id}　{s.title}")
with right:
    st.subheader("年度重要計畫")
    for program in plan.programs:
        with st.expander(program.name):
            for item in program.items:
                st.text(f"【{item.name}】（{item.category}）")
                for action in item.actions:
                    st.text(f"{action.number}. {action.text}")
                    for sub in action.sub_items:
                        st.text(f"　　{sub}")

st.subheader("衡量指標")
st.dataframe(
    [
        {"代碼": k.id, "指標": k.name_zh, "目標": k.goal, "工作計畫": "、".join(k.programs) if isinstance(k.programs, tuple) else str(k.programs)}
        for k in eng.catalog.indicators
    ],
    hide_index=True,
)
