"""Login mode in the app (AppTest through dashboard.py): a users file turns login on.

Without a login nothing of the dashboard shows; after one, the sidebar says who is
logged in and the pages offer only what the role may do.
"""

from __future__ import annotations

import hashlib

import pytest

from kpi.auth import LOGIN_THROTTLE, Role, UsersFile, users_file_path
from tests.app_helpers import app_store, errors, open_page, store_url
from tests.workbooks import xlsx_bytes

PASSWORD = "correct horse battery"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
VALUES = [["指標代碼", "年度", "季別", "實際值", "說明"], ["K4.1", 108, "第1季", 77, "修正"]]


@pytest.fixture(scope="module")
def eng(tmp_path_factory):
    path = tmp_path_factory.mktemp("users") / "users.yaml"
    users = UsersFile(path)
    for name, role in (("ada", Role.ADMIN), ("uma", Role.UPLOADER), ("vera", Role.VIEWER)):
        users.add(name, role, PASSWORD)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KPI_USERS_FILE", str(path))
        with app_store(store_url(tmp_path_factory, sample=True)) as engine:
            yield engine


def login(at, name: str, password: str = PASSWORD):
    at.text_input(key="login_name").input(name)
    at.text_input(key="login_password").input(password)
    at.button[0].click().run()
    return at


def test_nothing_shows_before_a_login(eng):
    at = open_page("pages/overview.py")
    assert errors(at) == []
    assert (
        at.text_input(key="login_password").proto.type
        == at.text_input(key="login_password").proto.PASSWORD
    )
    assert not at.sidebar.selectbox and not at.metric and not at.dataframe
    assert [t.value for t in at.title] == ["施政績效儀表板"]


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(eng):
    at = login(open_page("pages/overview.py"), "vera", "not the password!")
    assert [e.value for e in at.error] == ["帳號或密碼不正確。"]
    at = login(open_page("pages/overview.py"), "nobody", PASSWORD)
    assert [e.value for e in at.error] == ["帳號或密碼不正確。"]
    assert not at.sidebar.selectbox


def test_repeated_wrong_passwords_lock_the_name_for_a_while(eng):
    users = UsersFile(users_file_path())
    users.add("lena", Role.VIEWER, PASSWORD)
    for _ in range(LOGIN_THROTTLE.attempts):
        at = login(open_page("pages/overview.py"), "lena", "a wrong guess!")
        assert [e.value for e in at.error] == ["帳號或密碼不正確。"]
    # Now even the right password is not checked, and the message says why.
    at = login(open_page("pages/overview.py"), "lena")
    assert [e.value for e in at.error] == ["此帳號登入失敗次數過多，請約 5 分鐘後再試。"]
    assert not at.sidebar.selectbox
    # Other names are not affected.
    assert login(open_page("pages/overview.py"), "vera").sidebar.selectbox


def test_after_a_login_the_sidebar_says_who_and_the_page_shows(eng):
    at = login(open_page("pages/overview.py"), "vera")
    assert errors(at) == []
    assert at.sidebar.selectbox, "the sidebar did not run"
    assert any(c.value == "已登入：vera（檢視者）" for c in at.sidebar.caption)
    assert at.title[0].value == "施政績效總覽"
    at.sidebar.button(key="logout").click().run()
    assert not at.sidebar.selectbox


def test_a_viewer_can_check_a_file_but_not_import_it(eng):
    content = xlsx_bytes({"指標填報": VALUES})
    at = open_page("pages/upload.py", _user_name="vera")
    at.file_uploader(key="upload_files").set_value([("k41.xlsx", content, XLSX)]).run()
    assert errors(at) == []
    button = at.button(key=f"upload_import_{hashlib.sha256(content).hexdigest()[:16]}")
    assert button.disabled and "檢視者" in button.proto.help


def test_a_viewer_gets_no_undo_and_no_original_file(eng):
    at = open_page("pages/history.py", _user_name="vera")
    assert errors(at) == []
    assert at.button(key="history_undo").disabled
    assert not [b for b in at.get("download_button") if b.key == "history_download"]


def test_an_uploader_undoes_only_their_own_batches(eng):
    at = open_page("pages/history.py", _user_name="uma")
    assert errors(at) == []
    assert at.button(key="history_undo").disabled  # the newest batch is the sample's
    assert any("只有管理者或上傳者本人能復原" in c.value for c in at.caption)


def test_targets_and_plans_are_for_administrators(eng):
    at = open_page("pages/plan.py", _user_name="uma")
    assert errors(at) == []
    assert not [b for b in at.button if b.key == "target_save"]
    assert any("只有管理者能修正目標值" in c.value for c in at.caption)
    at = open_page("pages/plan.py", _user_name="ada")
    assert errors(at) == []
    assert [b for b in at.button if b.key == "target_save"]


def test_a_removed_user_is_logged_out_at_the_next_run(eng):
    import os

    users = UsersFile(os.environ["KPI_USERS_FILE"])
    users.add("temp", Role.VIEWER, PASSWORD)
    at = open_page("pages/overview.py", _user_name="temp")
    assert at.sidebar.selectbox
    users.remove("temp")
    at.run()
    assert not at.sidebar.selectbox and at.text_input(key="login_password")


# -- single sign-on (st.login) ---------------------------------------------------------------------

AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "a-long-random-secret-for-the-test-only",
    "client_id": "kpi-dashboard",
    "client_secret": "not-a-real-secret",
    "server_metadata_url": "https://idp.example.gov.tw/.well-known/openid-configuration",
}


def sso_page(page: str, user: dict):
    """The app through dashboard.py with single sign-on configured and this platform user."""
    from streamlit.testing.v1 import AppTest

    from kpi.paths import ROOT

    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=90)
    at.secrets["auth"] = AUTH
    at.user = user
    at.session_state["lang"] = "zh-TW"
    at.switch_page(page)
    return at.run()


def test_with_single_sign_on_the_login_is_the_platforms(eng):
    at = sso_page("pages/overview.py", {"is_logged_in": False})
    assert errors(at) == []
    assert at.button(key="sso_login").label == "登入"
    assert not at.text_input and not at.sidebar.selectbox  # no password form, no dashboard


def test_single_sign_on_users_get_their_role_from_the_users_file(eng):
    import os

    UsersFile(os.environ["KPI_USERS_FILE"]).add("chief@example.gov.tw", Role.ADMIN, None)
    at = sso_page("pages/plan.py", {"is_logged_in": True, "email": "Chief@example.gov.tw"})
    assert errors(at) == []
    assert any(c.value == "已登入：chief@example.gov.tw（管理者）" for c in at.sidebar.caption)
    assert [b for b in at.button if b.key == "target_save"]
    # Someone the users file does not list is a viewer by default …
    at = sso_page("pages/plan.py", {"is_logged_in": True, "email": "clerk@example.gov.tw"})
    assert any("（檢視者）" in c.value for c in at.sidebar.caption)
    assert not [b for b in at.button if b.key == "target_save"]


def test_single_sign_on_can_refuse_people_the_users_file_does_not_list(eng, monkeypatch):
    monkeypatch.setenv("KPI_OIDC_DEFAULT_ROLE", "none")
    at = sso_page("pages/overview.py", {"is_logged_in": True, "email": "stranger@example.com"})
    assert not at.exception
    assert [e.value for e in at.error] == [
        "stranger@example.com 已登入，但尚未獲得本系統的權限；請洽系統管理者。"
    ]
    assert at.button(key="sso_logout") and not at.sidebar.selectbox


def test_a_password_cannot_log_in_a_single_sign_on_only_account(eng):
    import os

    users = UsersFile(os.environ["KPI_USERS_FILE"])
    users.add("sso-only@example.gov.tw", Role.UPLOADER, None)
    assert users.verify("sso-only@example.gov.tw", "") is None
    assert users.verify("sso-only@example.gov.tw", PASSWORD) is None
