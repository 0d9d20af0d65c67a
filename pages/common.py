"""What every page shares: the engine, the sidebar filters, cached figures, downloads.

Filters live in st.session_state (so they survive page switches) and are mirrored into
the URL's query parameters (so a reload or a shared link shows the same view).
Cached functions take the store's version as their first argument: any write anywhere
(another session, another server on the same PostgreSQL) changes it and so the key.
"""

from __future__ import annotations

import gc
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from kpi import views
from kpi.auth import (
    LOCAL,
    LOGIN_THROTTLE,
    ROLE_NAMES,
    AuthError,
    Role,
    User,
    UsersFile,
    oidc_default_role,
    users_file_path,
)
from kpi.closing import Reported, goal_revisions, kpi_revisions
from kpi.engine import Engine
from kpi.exports import to_csv_bytes, to_xlsx_bytes
from kpi.i18n import (
    EN,
    LANG_NAMES,
    LANGS,
    PAGE_TITLES,
    ZH,
    Translator,
    fmt_datetime,
    fmt_quarter_short,
    fmt_year,
)
from kpi.store import QuarterClose, StoreError

log = logging.getLogger("kpi.pages")


@st.cache_resource
def engine() -> Engine:
    """One engine per server process; the sample year loads on a store's first start."""
    eng = Engine()
    eng.first_run()
    # Streamlit collects garbage after every script run (runner.postScriptGC), and a full
    # collection walks every container alive: with Streamlit, pandas, Plotly and the engine
    # loaded that is 0.1-0.35 s holding the GIL, during which the server neither answers
    # the browser's requests for scripts nor sends messages. Nearly all that exists now
    # (modules, the engine) lives as long as the process; moved out of the collector's
    # sight, later collections only look at what page runs create.
    gc.collect()
    gc.freeze()
    return eng


@dataclass(frozen=True)
class Filters:
    """The sidebar's choices, as every page reads them."""

    year: int
    quarter: int
    programs: tuple[str, ...]
    lang: str


# -- who is using the dashboard -------------------------------------------------------------

_USER_KEY = "_user_name"


def single_sign_on() -> bool:
    """Whether the platform's login (st.login, an [auth] section in secrets) is configured."""
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all
        return False


def _sso_user() -> User | None:
    """The single sign-on's user with the role the users file gives their e-mail, if any."""
    if not st.user.is_logged_in:
        return None
    email = str(st.user.get("email") or "").strip().lower()
    if not email:
        return None
    path = users_file_path()
    account = None
    if path is not None:
        try:
            account = UsersFile(path).accounts().get(email)
        except AuthError:
            log.exception("the users file %s cannot be read", path)
            return None
    role = account.role if account is not None else oidc_default_role()
    return None if role is None else User(email, role)


def current_user() -> User | None:
    """The user this session acts as; None when login is required and nobody is logged in.

    In local single-user mode (no users file) everyone is the administrator "local".
    With a users file the role is read from the file on every run, so a role change takes
    effect at once and a removed user is logged out. With single sign-on configured, the
    platform says who is logged in and the users file (or KPI_OIDC_DEFAULT_ROLE) the role.
    """
    if single_sign_on():
        return _sso_user()
    path = users_file_path()
    if path is None:
        return LOCAL
    name = st.session_state.get(_USER_KEY)
    if not name:
        return None
    try:
        account = UsersFile(path).accounts().get(name)
    except AuthError:
        log.exception("the users file %s cannot be read", path)
        account = None  # the login form shows the file's problem to whoever tries next
    if account is None:
        st.session_state.pop(_USER_KEY, None)
        return None
    return User(account.name, account.role)


def acting_engine() -> Engine:
    """The engine acting as this session's user: every write checks the user's role."""
    user = current_user()
    if user is None:  # dashboard.py stops before any page runs without a login
        st.stop()
    return engine().as_user(user)


def may(role: Role) -> bool:
    user = current_user()
    return user is not None and user.may(role)


def login_form(lang: str) -> None:
    """The login screen (users-file mode): nothing else of the dashboard shows before it."""
    t = Translator(lang)
    st.title(t("login_title"))
    if single_sign_on():
        if st.user.is_logged_in:
            # Known to the platform, but not given a role here.
            st.error(t("sso_no_access", email=str(st.user.get("email") or "")))
            st.button(t("logout"), key="sso_logout", on_click=st.logout)
        else:
            st.caption(t("sso_help"))
            st.button(t("login_submit"), key="sso_login", type="primary", on_click=st.login)
        return
    st.caption(t("login_help"))
    with st.form("login", enter_to_submit=True):
        name = st.text_input(t("login_name"), key="login_name")
        password = st.text_input(t("login_password"), type="password", key="login_password")
        submitted = st.form_submit_button(t("login_submit"), type="primary")
    if submitted:
        wait = LOGIN_THROTTLE.wait(name)
        if wait:
            log.warning("login for %r refused: too many failed attempts", name)
            st.error(t("login_locked", minutes=max(1, round(wait / 60))))
            return
        try:
            user = UsersFile(users_file_path()).verify(name, password)
        except AuthError as err:
            st.error(err.message_en if lang == EN else err.message_zh)
            return
        if user is None:
            log.warning("failed login for %r", name)
            LOGIN_THROTTLE.failed(name)
            st.error(t("login_failed"))
            return
        LOGIN_THROTTLE.succeeded(name)
        st.session_state[_USER_KEY] = user.name
        st.session_state.pop("login_password", None)
        st.rerun()


def user_box(t: Translator) -> None:
    """The sidebar's line on who is logged in (or that no login is needed)."""
    user = current_user()
    if user is None or user == LOCAL:
        st.caption(t("local_mode"))
        return
    zh, en = ROLE_NAMES[user.role]
    st.caption(t("logged_in", name=user.name, role=t.pick(zh, en)))
    if single_sign_on():
        st.button(t("logout"), key="logout", icon=":material/logout:", on_click=st.logout)
    elif st.button(t("logout"), key="logout", icon=":material/logout:"):
        st.session_state.pop(_USER_KEY, None)
        st.rerun()


# -- cached reads (keyed on the store's version) ---------------------------------------------


def version() -> int:
    return engine().store.version()


def chart(key: str, build: Callable[[], go.Figure], **kwargs):
    """st.plotly_chart of ``build()``, built once per store version and filters.

    ``build`` may read only what those determine (the page's cached tables, the filters,
    the language): a chart that depends on anything else (a chosen goal, a widget) is drawn
    with st.plotly_chart. Plotly validates every property a figure is given, 10–20 ms a
    chart on every run; the cache keeps the figure as the validated dict, which becomes a
    Figure again without a second validation.
    """
    token = (version(), current_filters())
    fig = go.Figure(_figure(key, token, build), _validate=False)
    return st.plotly_chart(fig, key=key, **kwargs)


@st.cache_data(show_spinner=False, max_entries=256)
def _figure(key: str, token: object, _build: Callable[[], go.Figure]) -> dict:
    return _build().to_dict()


@st.cache_data(show_spinner=False, max_entries=256)
def status(store_version: int, year: int, quarter: int, programs: tuple[str, ...]):
    return engine().status(year, quarter, programs)


@st.cache_data(show_spinner=False, max_entries=64)
def indicator_grid(store_version: int, year: int, programs: tuple[str, ...]):
    from kpi import figures

    eng = engine()
    return figures.indicator_grid(eng.store, eng.catalog, year, programs)


@st.cache_data(show_spinner=False, max_entries=64)
def goal_grid(store_version: int, year: int, programs: tuple[str, ...]) -> pd.DataFrame:
    """Goal × quarter: achievement and light for the whole year."""
    from kpi import figures

    eng = engine()
    grid = indicator_grid(store_version, year, programs)
    plan = eng.plan(year)
    rows = []
    for q in (1, 2, 3, 4):
        for g in figures.roll_up(plan, eng.catalog, [k for k in grid if k.quarter == q]):
            rows.append(
                {
                    "goal": g.id,
                    "title": g.title,
                    "quarter": q,
                    "achievement": g.achievement,
                    "light": g.light,
                }
            )
    return pd.DataFrame(rows)


@st.cache_data(show_spinner=False, max_entries=32)
def cached_view(store_version: int, name: str, *args):
    """Any kpi.views function by name, cached per store version and arguments."""
    return getattr(views, name)(engine().store, *args)


def view(name: str, *args):
    return cached_view(version(), name, *args)


# -- quarter close (期末鎖定): figures as reported beside the current ones ---------------------------

CLOSE_STRINGS: dict[str, tuple[str, str]] = {
    "closed": (
        "本季已於 {when} 結算（{who}）。結算後的修正會與結算時的數值並列，不會悄悄改變。",
        "This quarter was closed on {when} ({who}). Revisions since then are shown beside "
        "the figures as reported at the close, never silently.",
    ),
    "reopened": (
        "本季曾於 {when} 結算（{who}），{reopened_at} 由 {reopened_by} 解除鎖定（原因：{reason}）。"
        "與結算時不同的數值會並列顯示。",
        "This quarter was closed on {when} ({who}) and reopened on {reopened_at} by "
        "{reopened_by} (reason: {reason}). Figures that differ from those reported at the "
        "close are shown beside them.",
    ),
    "closed_filtered": (
        "結算時的數值為全機關合計；選擇工作計畫時不並列比較。",
        "The figures at the close cover the whole agency; they are not compared under a "
        "program filter.",
    ),
}


@dataclass(frozen=True)
class AsReported:
    """A quarter's newest close, if any (in force or reopened), and what differs from it now
    (by indicator and goal id)."""

    close: QuarterClose | None = None
    kpis: dict[str, Reported] | None = None
    goals: dict[str, Reported] | None = None

    def kpi(self, kpi_id: str) -> Reported | None:
        return (self.kpis or {}).get(kpi_id)

    def goal(self, goal_id: str) -> Reported | None:
        return (self.goals or {}).get(goal_id)


@st.cache_data(show_spinner=False, max_entries=64)
def as_reported(store_version: int, year: int, quarter: int, programs: tuple[str, ...]):
    """The quarter's close and its revisions; none are compared under a program filter (the
    snapshot is the whole agency's)."""
    close = engine().quarter_close(year, quarter, reopened=True)
    if close is None or programs:
        return AsReported(close)
    now = status(store_version, year, quarter, programs)
    return AsReported(close, kpi_revisions(close, now), goal_revisions(close, now))


def close_caption(t: Translator, reported: AsReported, programs: tuple[str, ...]) -> None:
    """「本季已於 … 結算」 under a closed (or reopened) quarter's title."""
    close = reported.close
    if close is None:
        return
    text = CLOSE_STRINGS["reopened" if close.is_open else "closed"][1 if t.en else 0].format(
        when=fmt_datetime(close.closed_at, t.lang),
        who=md_escape(close.closed_by),
        reopened_at=fmt_datetime(close.reopened_at, t.lang),
        reopened_by=md_escape(close.reopened_by or ""),
        reason=md_escape(close.reopen_reason or ""),
    )
    if programs:
        text += " " + t.pick(*CLOSE_STRINGS["closed_filtered"])
    st.caption(f":material/{'lock_open' if close.is_open else 'lock'}: {text}")


# -- sidebar and filters ------------------------------------------------------------------------


def _latest_quarter(eng: Engine, year: int) -> int:
    months = views.data_months(eng.store, year)
    return (max(months) - 1) // 3 + 1 if months else 1


def _from_query(name: str, cast, default):
    try:
        raw = st.query_params.get(name)
        return cast(raw) if raw not in (None, "") else default
    except (TypeError, ValueError):
        return default


def sidebar(eng: Engine) -> Filters:
    """Language, year, quarter and program filter; kept in session state and the URL."""
    years = eng.years()
    plan_programs = list(eng.plan(years[-1]).program_names)
    state = st.session_state
    if "lang" not in state:
        state.lang = _from_query("lang", str, ZH) if _from_query("lang", str, ZH) in LANGS else ZH
    if "year" not in state:
        y = _from_query("year", int, years[-1])
        state.year = y if y in years else years[-1]
    if "quarter" not in state:
        q = _from_query("quarter", int, _latest_quarter(eng, state.year))
        state.quarter = q if q in (1, 2, 3, 4) else 1
    if "programs" not in state:
        wanted = [p for p in _from_query("programs", str, "").split(",") if p]
        state.programs = [p for p in wanted if p in plan_programs]
    if state.year not in years:
        state.year = years[-1]
    lang = state.lang
    t = Translator(lang)
    with st.sidebar:
        st.selectbox(t("language"), LANGS, key="lang", format_func=LANG_NAMES.get)
        # format_func closes over the language, not over st.session_state: AppTest calls it
        # outside a script run, where session state cannot be read.
        lang = st.session_state.lang
        t = Translator(lang)
        st.selectbox(t("year"), years, key="year", format_func=lambda y: fmt_year(y, lang))
        st.radio(
            t("quarter"),
            (1, 2, 3, 4),
            key="quarter",
            horizontal=True,
            format_func=lambda q: fmt_quarter_short(q, lang),
        )
        programs = list(eng.plan(st.session_state.year).program_names)
        state.programs = [p for p in state.programs if p in programs]
        st.multiselect(t("programs"), programs, key="programs", placeholder=t("all_programs"))
        user_box(t)
        if eng.has_sample():
            st.info(t("sample_notice"))
            if may(Role.ADMIN) and st.button(t("remove_sample"), key="remove_sample"):
                try:
                    acting_engine().remove_sample()
                except StoreError as exc:  # a closed quarter of the sample year, say
                    st.error(md_escape(t.pick(exc.message_zh, exc.message_en)))
                else:
                    st.cache_data.clear()
                    st.toast(t("sample_removed"))
                    st.rerun()
    f = current_filters()
    st.query_params.update(
        {
            "lang": f.lang,
            "year": str(f.year),
            "quarter": str(f.quarter),
            "programs": ",".join(f.programs),
        }
    )
    return f


COVERAGE_PAGE = "pages/coverage.py"


def coverage_link(t: Translator) -> None:
    """Where a white light (no data) leads: what has not arrived, on the 資料完整度 page."""
    st.page_link(COVERAGE_PAGE, label=t("coverage_link"), icon=":material/fact_check:")


ENTRY_FLAG = "_via_entrypoint"


def require_entrypoint() -> None:
    """Make sure the page runs inside dashboard.py's navigation, not on its own.

    Streamlit starts every server in its old "pages/ folder" mode when a folder named
    pages/ sits beside the entry script, and only leaves it once st.navigation has run.
    On a fresh server the very first request (say a shared link to /overview) would run
    the page file alone, without the sidebar. Leave that mode and run again properly.
    """
    if not st.session_state.get(ENTRY_FLAG):
        from streamlit.runtime.pages_manager import PagesManager

        PagesManager.uses_pages_directory = False
        st.rerun()


def current_filters() -> Filters:
    require_entrypoint()
    s = st.session_state
    return Filters(int(s.year), int(s.quarter), tuple(s.get("programs", [])), s.get("lang", ZH))


def translator(table: dict[str, tuple[str, str]] | None = None) -> Translator:
    require_entrypoint()
    return Translator(st.session_state.get("lang", ZH), table)


def page_title(key: str, lang: str) -> str:
    zh, en = PAGE_TITLES[key]
    return en if lang == EN else zh


# -- safe text and downloads -------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&])")
# GFM links bare URLs, www. names and e-mail addresses even when every character is escaped;
# an invisible word joiner before "://", after "www" and before "@" keeps them text.
_AUTOLINK = re.compile(r"(?=://)|(?<=www)(?=\.)|(?=@)", re.IGNORECASE)
WORD_JOINER = "\u2060"


def md_escape(text: object) -> str:
    """Uploaded text for use inside st.markdown: every Markdown/HTML character escaped."""
    return _MD_SPECIAL.sub(r"\\\1", _AUTOLINK.sub(WORD_JOINER, str(text)))


# A table this small is written to Excel and CSV on every run (cached on its contents;
# openpyxl takes about 20 µs a cell); a larger one, or one given as a function, only when
# someone asks for it.
EAGER_CELLS = 2_000
_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@st.cache_data(max_entries=256, show_spinner=False)
def _files(frame: pd.DataFrame) -> tuple[bytes, bytes]:
    return to_xlsx_bytes(frame), to_csv_bytes(frame)


def downloads(
    frame: pd.DataFrame | Callable[[], pd.DataFrame],
    name: str,
    key: str,
    *,
    token: object = None,
) -> None:
    """Excel and CSV downloads of a table or a chart's data (formula injection neutralised).

    The buttons always carry finished bytes. (Streamlit can build a file on click from a
    callable, but drops that callable whenever another session's run ends while this
    session reruns, and the click then does nothing.) A large table, or a function
    ``frame`` that builds one, is written only after a click on "prepare"; the files are
    kept in the session until ``token`` (for a function: what its table depends on, such as
    the store's version and the filters) or the table's contents change.
    """
    if callable(frame) or frame.size > EAGER_CELLS:
        if callable(frame) and token is None:
            raise TypeError("downloads: a table given as a function needs a token")
        if token is None:
            token = int(pd.util.hash_pandas_object(frame, index=False).sum())
        files = _prepared(frame, key, token)
    else:
        files = _files(frame)
    if files is not None:
        _download_buttons(files, name, key)


def _prepared(
    frame: pd.DataFrame | Callable[[], pd.DataFrame], key: str, token: object
) -> tuple[bytes, bytes] | None:
    """The files this session prepared for ``token``, or a button that prepares them."""
    t = translator()
    slot = f"_download_{key}"
    held = st.session_state.get(slot)
    if held is not None and held[0] == token:
        return held[1]
    if not st.button(t("download_prepare"), key=f"{key}_prepare", icon=":material/download:"):
        return None
    with st.spinner(t("download_preparing")):
        table = frame() if callable(frame) else frame
        files = to_xlsx_bytes(table), to_csv_bytes(table)
    st.session_state[slot] = (token, files)
    return files


def _download_buttons(files: tuple[bytes, bytes], name: str, key: str) -> None:
    t = translator()
    xlsx, csv = files
    # A row as wide as its buttons, so the labels fit in a narrow column too.
    row = st.container(horizontal=True)
    row.download_button(
        t("download_xlsx"),
        xlsx,
        file_name=f"{name}.xlsx",
        mime=_XLSX,
        key=f"{key}_xlsx",
        icon=":material/download:",
        on_click="ignore",  # a download needs no rerun of the page
    )
    row.download_button(
        t("download_csv"),
        csv,
        file_name=f"{name}.csv",
        mime="text/csv",
        key=f"{key}_csv",
        icon=":material/download:",
        on_click="ignore",
    )
