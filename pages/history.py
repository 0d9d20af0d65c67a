"""上傳紀錄 History — every import (batch), its original file, undo, and the audit log.

Undo is two steps (choose the batch, then confirm) because it changes every figure that
used the batch's rows. The store restores exactly what was there before the batch: each
key it touched goes back to its newest version from a batch that is still active.
"""

from __future__ import annotations

import json
import logging

import pandas as pd
import streamlit as st

from kpi.auth import Role
from kpi.i18n import fmt_datetime, fmt_months, fmt_quarters
from kpi.ingest.datasets import DATASETS
from kpi.store import BatchInfo, StoreError
from pages.common import acting_engine, current_user, downloads, may, md_escape, translator

PAGE_STRINGS: dict[str, tuple[str, str]] = {
    "viewer_no_original": (
        "原始檔只提供給上傳者與管理者下載。",
        "Original files are for uploaders and administrators.",
    ),
    "not_yours": (
        "這個批次由 {who} 上傳；只有管理者或上傳者本人能復原。",
        "{who} uploaded this batch; only they or an administrator can undo it.",
    ),
    "title": ("上傳紀錄", "Upload history"),
    "intro": (
        "每次匯入都是一個批次，原始檔案會保留。復原批次會讓資料回到該批次匯入前的狀態。",
        "Every import is a batch and its original file is kept. Undoing a batch puts the data back as it was before that batch.",
    ),
    "no_batches": ("尚無匯入紀錄。", "Nothing has been imported yet."),
    "batches": ("匯入批次", "Batches"),
    "col_batch": ("批次", "Batch"),
    "col_when": ("匯入時間", "Imported at"),
    "col_who": ("匯入者", "By"),
    "col_at": ("時間", "Time"),
    "col_actor": ("操作者", "By"),
    "col_file": ("檔案", "File"),
    "col_size": ("大小（KB）", "Size (KB)"),
    "col_dataset": ("資料類別", "Dataset"),
    "col_period": ("期間", "Period"),
    "col_rows": ("資料列數", "Rows"),
    "col_new": ("新增", "New"),
    "col_changed": ("變更", "Changed"),
    "col_unchanged": ("未變更", "Unchanged"),
    "col_removed": ("移除", "Removed"),
    "col_status": ("狀態", "Status"),
    "col_undone_at": ("復原時間", "Undone at"),
    "col_undone_by": ("復原者", "Undone by"),
    "col_action": ("動作", "Action"),
    "col_detail": ("內容", "Details"),
    "status_active": ("有效", "Active"),
    "status_undone": ("已復原", "Undone"),
    "choose": ("選擇批次", "Choose a batch"),
    "batch_option": ("#{id}　{file}（{when}）", "#{id}  {file} ({when})"),
    "download_original": ("下載原始檔案", "Download the original file"),
    "no_original": ("這個批次沒有保存原始檔案。", "No original file is kept for this batch."),
    "undo": ("復原此批次…", "Undo this batch…"),
    "undo_help": (
        "復原前會再請您確認。",
        "You are asked to confirm before anything changes.",
    ),
    "already_undone": (
        "批次 #{id} 已於 {when} 由 {who} 復原，不能再復原一次。",
        "Batch #{id} was undone at {when} by {who}; it cannot be undone again.",
    ),
    "confirm_text": (
        "確定要復原批次 #{id}（{file}）嗎？這個批次寫入的 {rows} 列資料會回到匯入前的版本，所有頁面的數字會隨之改變。",
        "Undo batch #{id} ({file})? The {rows} row(s) it wrote go back to the versions before it, and every page's figures change accordingly.",
    ),
    "confirm_undo": ("確認復原", "Confirm undo"),
    "cancel": ("取消", "Cancel"),
    "undone": (
        "已復原批次 #{id}：{detail}。",
        "Batch #{id} has been undone: {detail}.",
    ),
    "undone_detail": ("{dataset} 還原 {n} 個鍵值", "{dataset}: {n} keys restored"),
    "undo_failed": ("復原失敗：{message}", "The undo failed: {message}"),
    "undo_error": (
        "復原時發生未預期的錯誤，資料沒有變更；已記錄。",
        "The undo failed unexpectedly and nothing changed; this has been logged.",
    ),
    "audit": ("稽核紀錄", "Audit log"),
    "audit_intro": (
        "所有寫入動作（匯入、復原、目標值修訂、計畫載入）的紀錄，僅供查閱。",
        "Every write (imports, undos, target revisions, plan loads); read-only.",
    ),
    "no_audit": ("尚無稽核紀錄。", "The audit log is empty."),
    "action_import": ("匯入", "Import"),
    "action_undo": ("復原", "Undo"),
    "action_purge": ("刪除批次", "Delete batches"),
    "action_plan_load": ("載入施政計畫", "Load plan"),
    "action_plan_remove": ("移除施政計畫", "Remove plan"),
    "action_target_set": ("修訂目標值", "Revise target"),
    "action_quarter_close": ("季別結算（期末鎖定）", "Close quarter"),
    "action_quarter_reopen": ("解除季別鎖定", "Reopen quarter"),
    "action_user_add": ("新增使用者", "Add user"),
    "action_user_role": ("變更使用者角色", "Change user role"),
    "action_user_password": ("變更使用者密碼", "Change user password"),
    "action_user_remove": ("移除使用者", "Remove user"),
    "action_copy": ("複製資料庫", "Copy store"),
}

_CONFIRM = "history_confirm"  # session state: the batch id awaiting confirmation
_MESSAGE = "history_message"  # session state: (kind, text) of the last undo

log = logging.getLogger("kpi.pages.history")
t = translator(PAGE_STRINGS)
eng = acting_engine()


def dataset_labels(names: tuple[str, ...]) -> str:
    return "、".join(
        t.pick(DATASETS[n].label_zh, DATASETS[n].label_en) for n in names if n in DATASETS
    )


def _as_list(value: object) -> list[int]:
    if value is None:
        return []
    return [int(v) for v in value] if isinstance(value, list | tuple) else [int(value)]


def period(b: BatchInfo) -> str:
    """Year and months (or quarters) from the batch's summary."""
    years = _as_list(b.summary.get("year"))
    months = _as_list(b.summary.get("months"))
    quarters = _as_list(b.summary.get("quarters"))
    year = "、".join(t.year(y) for y in years)
    if months:
        span = fmt_months(months, t.lang)
    elif quarters:
        span = fmt_quarters(quarters, t.lang)
    else:
        span = ""
    return " ".join(p for p in (year, span) if p) or "—"


def batches_table(batches: list[BatchInfo]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                t("col_batch"): b.id,
                t("col_status"): t(f"status_{b.status}"),
                t("col_when"): fmt_datetime(b.created_at, t.lang),
                t("col_who"): b.who,
                t("col_file"): b.file_name,
                t("col_dataset"): dataset_labels(b.datasets),
                t("col_period"): period(b),
                t("col_rows"): b.rows,
                t("col_new"): b.new,
                t("col_changed"): b.changed,
                t("col_unchanged"): b.unchanged,
                t("col_removed"): b.removed,
                t("col_undone_at"): fmt_datetime(b.undone_at, t.lang),
                t("col_undone_by"): b.undone_by or "",
                t("col_size"): round(b.size / 1024, 1),
            }
            for b in batches
        ]
    )


def audit_table(log_frame: pd.DataFrame) -> pd.DataFrame:
    def action(name: str) -> str:
        key = f"action_{name}"
        return t(key) if key in PAGE_STRINGS else name

    def detail(text: str) -> str:
        # The JSON as written, made readable: keys and values, never interpreted as markup.
        try:
            data = json.loads(text)
        except (TypeError, ValueError):
            return str(text)
        if not isinstance(data, dict):
            return str(data)
        return "; ".join(f"{k}: {json.dumps(v, ensure_ascii=False)}" for k, v in data.items())

    return pd.DataFrame(
        {
            t("col_at"): [fmt_datetime(x, t.lang) for x in log_frame["at"]],
            t("col_actor"): log_frame["who"].astype(str),
            t("col_action"): [action(a) for a in log_frame["action"]],
            t("col_detail"): [detail(d) for d in log_frame["detail"]],
        }
    )


def undo(batch: BatchInfo) -> None:
    """Undo a batch and keep the outcome for the rerun that follows."""
    try:
        restored = eng.undo(batch.id)
    except StoreError as exc:
        message = t.pick(exc.message_zh, exc.message_en)
        st.session_state[_MESSAGE] = ("error", t("undo_failed", message=md_escape(message)))
    except Exception:
        log.exception("undo of batch %s failed", batch.id)
        st.session_state[_MESSAGE] = ("error", t("undo_error"))
    else:
        detail = (t.pick("、", ", ")).join(
            t("undone_detail", dataset=dataset_labels((name,)), n=n) for name, n in restored.items()
        )
        st.session_state[_MESSAGE] = ("success", t("undone", id=batch.id, detail=detail))
    st.session_state.pop(_CONFIRM, None)
    # Every figure on every page depends on the stored rows.
    st.cache_data.clear()


def batch_actions(batch: BatchInfo) -> None:
    """Download the original file; undo with a confirmation."""
    user = current_user()
    original = eng.original_file(batch.id) if may(Role.UPLOADER) else None
    may_undo = may(Role.ADMIN) or (
        may(Role.UPLOADER) and user is not None and batch.who == user.name
    )
    left, right = st.columns([1, 2])
    with left:
        if not may(Role.UPLOADER):
            st.caption(t("viewer_no_original"))
        elif original is None:
            st.caption(t("no_original"))
        else:
            name, content = original
            st.download_button(
                t("download_original"),
                content,
                file_name=name,
                mime="application/octet-stream",
                key="history_download",
                icon=":material/download:",
                on_click="ignore",
            )
    with right:
        if batch.status == "active" and not may_undo:
            st.button(t("undo"), key="history_undo", disabled=True, icon=":material/undo:")
            st.caption(t("not_yours", who=md_escape(batch.who)))
        elif batch.status != "active":
            st.button(t("undo"), key="history_undo", disabled=True, icon=":material/undo:")
            st.caption(
                t(
                    "already_undone",
                    id=batch.id,
                    when=fmt_datetime(batch.undone_at, t.lang),
                    who=md_escape(batch.undone_by or ""),
                )
            )
        elif st.session_state.get(_CONFIRM) == batch.id:
            st.warning(
                t("confirm_text", id=batch.id, file=md_escape(batch.file_name), rows=batch.rows)
            )
            a, b, _ = st.columns([1, 1, 2])
            if a.button(
                t("confirm_undo"),
                key="history_confirm_undo",
                type="primary",
                icon=":material/undo:",
            ):
                undo(batch)
                st.rerun()
            if b.button(t("cancel"), key="history_cancel"):
                st.session_state.pop(_CONFIRM, None)
                st.rerun()
        elif st.button(t("undo"), key="history_undo", help=t("undo_help"), icon=":material/undo:"):
            st.session_state[_CONFIRM] = batch.id
            st.rerun()


# -- the page -----------------------------------------------------------------------------------

st.title(t("title"))
st.caption(t("intro"))
batches = eng.store.batches()
st.subheader(t("batches"))
if not batches:
    st.info(t("no_batches"))
else:
    table = batches_table(batches)
    st.dataframe(table, hide_index=True)
    downloads(table, "batches", "history_batches")

    by_id = {b.id: b for b in batches}
    chosen = st.selectbox(
        t("choose"),
        list(by_id),
        key="history_batch",
        format_func=lambda i: t(
            "batch_option",
            id=i,
            file=by_id[i].file_name,
            when=fmt_datetime(by_id[i].created_at, t.lang),
        ),
    )
    if chosen is not None:
        batch_actions(by_id[chosen])
if _MESSAGE in st.session_state:
    kind, text = st.session_state[_MESSAGE]
    (st.success if kind == "success" else st.error)(text)

st.divider()
st.subheader(t("audit"))
st.caption(t("audit_intro"))
entries = eng.store.audit_log()
if entries.empty:
    st.info(t("no_audit"))
else:
    audit = audit_table(entries)
    st.dataframe(audit, hide_index=True)
    downloads(audit, "audit_log", "history_audit")
