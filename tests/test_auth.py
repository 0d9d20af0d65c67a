"""Login and roles: the users file, the `user` commands, and the engine refusing by role.

The pages hide what a role may not do; these tests check that the engine call itself
refuses, writes nothing, and that every user change is audited.
"""

from __future__ import annotations

import io
import json
import stat

import pytest

from kpi.auth import LOCAL, AuthError, LoginThrottle, PermissionDenied, Role, User, UsersFile
from kpi.cli import main
from kpi.engine import Engine
from tests.test_cli import VISA
from tests.workbooks import xlsx_bytes

PASSWORD = "correct horse battery"

VIEWER = User("vera", Role.VIEWER)
UPLOADER = User("uma", Role.UPLOADER)
OTHER_UPLOADER = User("otto", Role.UPLOADER)
ADMIN = User("ada", Role.ADMIN)


def visa_file(issued: int = 1150) -> bytes:
    rows = [VISA[0], ["108/01", "駐日本代表處", "亞太", "停留簽證", issued + 50, issued, 50, 4.2]]
    return xlsx_bytes({"簽證": rows})


# -- the users file -----------------------------------------------------------------------------


def test_the_file_holds_argon2_hashes_only_and_only_its_owner_reads_it(tmp_path):
    users = UsersFile(tmp_path / "users.yaml")
    users.add("alice", Role.UPLOADER, PASSWORD)
    text = users.path.read_text(encoding="utf-8")
    assert PASSWORD not in text and "$argon2id$" in text
    assert stat.S_IMODE(users.path.stat().st_mode) == 0o600
    assert users.verify("alice", PASSWORD) == User("alice", Role.UPLOADER)
    assert users.verify("alice", PASSWORD + "!") is None
    assert users.verify("nobody", PASSWORD) is None


def test_roles_change_and_users_go(tmp_path):
    users = UsersFile(tmp_path / "users.yaml")
    users.add("alice", Role.VIEWER, PASSWORD)
    assert users.set_role("alice", Role.ADMIN) == Role.VIEWER
    assert users.verify("alice", PASSWORD).role == Role.ADMIN
    users.set_password("alice", "another long password")
    assert users.verify("alice", PASSWORD) is None
    users.remove("alice")
    assert users.accounts() == {}


@pytest.mark.parametrize(
    ("name", "password"),
    [("alice", "short"), ("bad name", PASSWORD), ("", PASSWORD), ("a/b", PASSWORD)],
)
def test_weak_passwords_and_odd_names_are_refused(tmp_path, name, password):
    users = UsersFile(tmp_path / "users.yaml")
    with pytest.raises(AuthError):
        users.add(name, Role.VIEWER, password)
    assert not users.path.exists()


def test_the_login_throttle_locks_a_name_after_repeated_failures_then_lets_it_try_again():
    now = [1000.0]
    throttle = LoginThrottle(attempts=3, window=60, lockout=30, clock=lambda: now[0])
    for _ in range(2):
        throttle.failed("Ada")
    assert throttle.wait("ada") == 0  # two failures: still allowed (names ignore case)
    throttle.failed("ada")
    assert throttle.wait("ADA") == 30 and throttle.wait("bob") == 0
    now[0] += 20
    assert throttle.wait("ada") == 10
    now[0] += 10
    assert throttle.wait("ada") == 0  # the lockout is over
    throttle.failed("ada")  # one more failure locks again: the window still holds three
    assert throttle.wait("ada") == 30
    throttle.succeeded("ada")
    assert throttle.wait("ada") == 0
    # Failures older than the window are forgotten.
    for _ in range(2):
        throttle.failed("cy")
    now[0] += 61
    throttle.failed("cy")
    assert throttle.wait("cy") == 0


def test_a_name_is_added_once(tmp_path):
    users = UsersFile(tmp_path / "users.yaml")
    users.add("alice", Role.VIEWER, PASSWORD)
    with pytest.raises(AuthError):
        users.add("alice", Role.ADMIN, PASSWORD)
    assert users.accounts()["alice"].role == Role.VIEWER


# -- the user commands ---------------------------------------------------------------------------


@pytest.fixture
def user_cli(tmp_path, capsys, monkeypatch):
    db = f"sqlite:///{tmp_path / 'auth.sqlite3'}"
    path = tmp_path / "users.yaml"

    def run(*args: str, stdin: str = "") -> tuple[int, dict]:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        code = main(["user", *args, "--users-file", str(path), "--db", db, "--json"])
        return code, json.loads(capsys.readouterr().out)

    run.path = path
    run.db = db
    return run


def test_user_commands_change_the_file_and_are_audited(user_cli):
    assert (
        user_cli("add", "alice", "--role", "uploader", "--password-stdin", stdin=PASSWORD)[0] == 0
    )
    assert user_cli("add", "bob", "--role", "viewer", "--password-stdin", stdin=PASSWORD)[0] == 0
    code, doc = user_cli("role", "bob", "admin")
    assert code == 0 and doc["old_role"] == "viewer" and doc["role"] == "admin"
    assert user_cli("remove", "alice")[0] == 0
    assert user_cli("list") == (0, {"users": [{"name": "bob", "role": "admin"}]})
    assert UsersFile(user_cli.path).verify("bob", PASSWORD) == User("bob", Role.ADMIN)
    from kpi.store import Store

    log = Store(user_cli.db).audit_log()
    assert list(log["action"])[::-1] == ["user_add", "user_add", "user_role", "user_remove"]
    assert PASSWORD not in " ".join(log["detail"])


def test_a_single_sign_on_user_is_added_without_a_password(user_cli):
    code, doc = user_cli("add", "chief@agency.gov.tw", "--role", "admin", "--no-password")
    assert code == 0 and doc["role"] == "admin"
    account = UsersFile(user_cli.path).accounts()["chief@agency.gov.tw"]
    assert account.role == Role.ADMIN and account.password_hash == ""
    assert UsersFile(user_cli.path).verify("chief@agency.gov.tw", "") is None


def test_user_commands_refuse_bad_input(user_cli):
    assert user_cli("add", "alice", "--role", "viewer", "--password-stdin", stdin="short")[0] == 1
    assert user_cli("role", "nobody", "admin")[0] == 1
    code, doc = user_cli("add", "alice", "--role", "boss", "--password-stdin", stdin=PASSWORD)
    assert code == 2 and "error" in doc


def test_user_commands_need_a_users_file(capsys, monkeypatch):
    monkeypatch.delenv("KPI_USERS_FILE", raising=False)
    assert main(["user", "list", "--json"]) == 2
    assert "users file" in json.loads(capsys.readouterr().out)["error"]


# -- the engine refuses by role --------------------------------------------------------------------


@pytest.fixture
def eng(store) -> Engine:
    return Engine(store)


def test_local_mode_is_one_administrator(eng):
    assert eng.user == LOCAL and LOCAL.may(Role.ADMIN)


def test_a_viewer_checks_files_but_cannot_import_and_nothing_is_written(eng):
    viewer = eng.as_user(VIEWER)
    version = eng.store.version()
    assert viewer.import_bytes(visa_file(), "visa.xlsx", dry_run=True).status == "valid"
    with pytest.raises(PermissionDenied) as refused:
        viewer.import_bytes(visa_file(), "visa.xlsx")
    assert "vera" in refused.value.message_en and "上傳者" in refused.value.message_zh
    assert eng.store.version() == version and eng.store.batches() == []
    assert eng.store.count_rows("visa") == 0


def test_uploaders_undo_their_own_batches_administrators_any(eng):
    mine = eng.as_user(UPLOADER).import_bytes(visa_file(1150), "a.xlsx")
    theirs = eng.as_user(OTHER_UPLOADER).import_bytes(visa_file(1300), "b.xlsx")
    assert [b.who for b in eng.store.batches()] == ["otto", "uma"]
    with pytest.raises(PermissionDenied):
        eng.as_user(UPLOADER).undo(theirs.batch)
    with pytest.raises(PermissionDenied):
        eng.as_user(VIEWER).undo(theirs.batch)
    assert {b.status for b in eng.store.batches()} == {"active"}
    eng.as_user(ADMIN).undo(theirs.batch)
    eng.as_user(UPLOADER).undo(mine.batch)
    assert [b.undone_by for b in eng.store.batches()] == ["ada", "uma"]


def test_targets_plans_sample_and_original_files_by_role(eng):
    batch = eng.as_user(UPLOADER).import_bytes(visa_file(), "a.xlsx").batch
    for user in (VIEWER, UPLOADER):
        acting = eng.as_user(user)
        with pytest.raises(PermissionDenied):
            acting.set_target("K6.1", 108, 1, 70_000, "院核定修正")
        with pytest.raises(PermissionDenied):
            acting.load_plan(eng.plan_text(b"x"))
        with pytest.raises(PermissionDenied):
            acting.remove_sample()
    assert eng.store.target_revisions().empty and eng.store.plan_years() == []
    with pytest.raises(PermissionDenied):
        eng.as_user(VIEWER).original_file(batch)
    assert eng.as_user(UPLOADER).original_file(batch)[0] == "a.xlsx"
    eng.as_user(ADMIN).set_target("K6.1", 108, 1, 70_000, "院核定修正")
    assert list(eng.store.target_revisions()["who"]) == ["ada"]
