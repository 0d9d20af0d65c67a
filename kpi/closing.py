"""Quarter close (期末鎖定): the figures as reported at the close, and how they compare now.

Closing a quarter stores its whole-agency figures (the JSON of ``kpi status``) and locks
its rows (kpi.store refuses imports, undos and target revisions that would change them).
The figures of a closed quarter can still move: a later correction of an earlier, open
quarter changes year-to-date values, and a reopen lets the quarter's own rows change.
Pages then show the value as reported at the close beside the current one, so a revision
is never silent.
"""

from __future__ import annotations

from dataclasses import dataclass

from kpi.figures import Status
from kpi.store import QuarterClose


def snapshot_of(status: Status) -> dict:
    """The quarter's figures as stored at a close: ``Status.as_json`` (zh-TW names), each
    indicator also with its English name and the catalogue target it replaced, if revised."""
    doc = status.as_json("zh-TW")
    for row, k in zip(doc["kpis"], status.kpis, strict=True):
        row["name_en"] = k.name_en
        row["original_target"] = k.original_target
    return doc


def as_reported_json(close: QuarterClose, lang: str = "zh-TW") -> dict:
    """``kpi status --as-reported``: the snapshot in the shape of ``kpi status``, with the
    close's time and author."""
    doc = dict(close.snapshot)
    doc["kpis"] = [
        {
            **{k: v for k, v in row.items() if k != "name_en"},
            "name": (row.get("name_en") or row["name"]) if lang == "en" else row["name"],
        }
        for row in close.snapshot["kpis"]
    ]
    doc["as_reported"] = close.as_json()
    return doc


@dataclass(frozen=True)
class Reported:
    """One indicator's or goal's figures as reported at the close."""

    actual: float | None
    target: float | None
    achievement: float | None
    light: str


def _reported(row: dict) -> Reported:
    return Reported(row.get("actual"), row.get("target"), row.get("achievement"), row["light"])


def kpi_revisions(close: QuarterClose, status: Status) -> dict[str, Reported]:
    """Indicator id → its as-reported figures, for the indicators whose current figures differ.

    Both sides are compared in the stored JSON form (the same rounding), so a value that
    did not change never shows as a revision.
    """
    now = {row["id"]: _reported(row) for row in status.as_json()["kpis"]}
    out = {}
    for row in close.snapshot.get("kpis", []):
        was = _reported(row)
        if row["id"] in now and now[row["id"]] != was:
            out[row["id"]] = was
    return out


def goal_revisions(close: QuarterClose, status: Status) -> dict[str, Reported]:
    """Goal id → its as-reported achievement and light, for the goals that differ now."""
    now = {row["id"]: _reported(row) for row in status.as_json()["goals"]}
    out = {}
    for row in close.snapshot.get("goals", []):
        was = _reported(row)
        if row["id"] in now and now[row["id"]] != was:
            out[row["id"]] = was
    return out
