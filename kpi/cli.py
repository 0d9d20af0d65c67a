"""python -m kpi — the same engine the pages use, for batch jobs and checks (SPEC §6).

Exit codes: 0 success, 1 refused input or validation errors, 2 usage error.
With --json, stdout carries exactly one JSON document and nothing else.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import unicodedata
from pathlib import Path

from kpi.ingest.datasets import DATASETS

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A command line that cannot be run as given (exit 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse that raises UsageError, so --json can still answer with a JSON document."""

    def error(self, message: str):
        self.print_usage(sys.stderr)
        raise UsageError(f"{self.prog}: error: {message}")


def roc_year(text: str) -> int:
    """108 or 2019 → 108."""
    s = unicodedata.normalize("NFKC", str(text)).strip().removesuffix("年度").removesuffix("年")
    if not s.isdigit():
        raise argparse.ArgumentTypeError(f"年度應為數字（108 或 2019）：{text}")
    y = int(s)
    y = y - 1911 if y > 1911 else y
    if not 1 <= y <= 200:
        raise argparse.ArgumentTypeError(f"年度超出範圍：{text}")
    return y


def quarter_number(text: str) -> int:
    """2, Q2, 第2季 → 2."""
    s = unicodedata.normalize("NFKC", str(text)).strip().upper()
    m = re.fullmatch(r"(?:第)?Q?([1-4])(?:季)?", s)
    if not m:
        raise argparse.ArgumentTypeError(f"季別應為 1–4：{text}")
    return int(m.group(1))


def reason_text(text: str) -> str:
    """A reason for the record: some text, not blanks."""
    s = str(text).strip()
    if not s:
        raise argparse.ArgumentTypeError("請寫明原因（不可空白） / a reason is required")
    return s


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--db",
        default=argparse.SUPPRESS,
        help="database URL (else KPI_DATABASE_URL, else data/kpi.sqlite3)",
    )
    common.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print one JSON document"
    )
    common.add_argument(
        "--lang", choices=("zh-TW", "en"), default=argparse.SUPPRESS, help="message language"
    )
    p = _Parser(prog="python -m kpi", description="施政績效儀表板 command line", parents=[common])
    sub = p.add_subparsers(dest="command", required=True)

    imp = sub.add_parser("import", parents=[common], help="validate and import workbooks")
    imp.add_argument("files", nargs="+", type=Path)
    imp.add_argument(
        "--dry-run", action="store_true", help="validate and compare only; write nothing"
    )
    imp.add_argument(
        "--year", type=roc_year, help="the year when the file does not say (108 or 2019)"
    )
    imp.add_argument(
        "--quarter", type=quarter_number, help="the quarter when the file does not say"
    )
    imp.add_argument(
        "--replace", action="store_true", help="visits: replace the file's quarters wholesale"
    )

    st = sub.add_parser("status", parents=[common], help="figures of one quarter")
    st.add_argument("--year", type=roc_year, required=True)
    st.add_argument("--quarter", type=quarter_number, required=True)
    st.add_argument(
        "--program", action="append", default=[], help="work program filter (repeatable)"
    )
    st.add_argument(
        "--as-reported",
        action="store_true",
        help="the figures as reported when the quarter was closed (whole agency)",
    )

    close = sub.add_parser(
        "close",
        parents=[common],
        help="close a quarter (期末鎖定): keep its figures, lock its rows",
    )
    close.add_argument("--year", type=roc_year, required=True)
    close.add_argument("--quarter", type=quarter_number, required=True)
    reopen = sub.add_parser("reopen", parents=[common], help="lift a quarter's lock (admin)")
    reopen.add_argument("--year", type=roc_year, required=True)
    reopen.add_argument("--quarter", type=quarter_number, required=True)
    reopen.add_argument(
        "--reason", type=reason_text, required=True, help="why the quarter is reopened"
    )

    target = sub.add_parser("target", parents=[common], help="indicator targets (目標值)")
    tsub = target.add_subparsers(dest="target_command", required=True, parser_class=_Parser)
    ts = tsub.add_parser("set", parents=[common], help="revise one cumulative target (admin)")
    ts.add_argument("kpi", help="indicator id, e.g. K6.1")
    ts.add_argument("--year", type=roc_year, required=True)
    ts.add_argument("--quarter", type=quarter_number, required=True)
    ts.add_argument("--value", type=float, required=True, help="the new cumulative target")
    ts.add_argument("--reason", type=reason_text, required=True, help="why the target changes")
    th = tsub.add_parser("history", parents=[common], help="the target revisions of a year")
    th.add_argument("kpi", nargs="?", help="one indicator only")
    th.add_argument("--year", type=roc_year, required=True)

    rep = sub.add_parser(
        "report", parents=[common], help="the quarterly briefing report (html, xlsx or ods)"
    )
    rep.add_argument("--year", type=roc_year, required=True)
    rep.add_argument("--quarter", type=quarter_number, required=True)
    rep.add_argument(
        "--program", action="append", default=[], help="work program filter (repeatable)"
    )
    rep.add_argument("--format", required=True, choices=("html", "xlsx", "ods"))
    rep.add_argument("-o", "--output", type=Path, required=True, help="the file to write")

    cov = sub.add_parser(
        "coverage", parents=[common], help="which months and quarters of a year hold data"
    )
    cov.add_argument("--year", type=roc_year, required=True)

    plan = sub.add_parser("plan", parents=[common], help="the 施政計畫")
    psub = plan.add_subparsers(dest="plan_command", required=True)
    pp = psub.add_parser("parse", parents=[common], help="parse a plan text (nothing stored)")
    pp.add_argument("file", type=Path)
    pi = psub.add_parser("import", parents=[common], help="parse and store a plan text")
    pi.add_argument("file", type=Path)
    pi.add_argument("--agency", default="", help="the agency's name, if the text does not say")
    ps = psub.add_parser("show", parents=[common], help="show the stored plan")
    ps.add_argument("--year", type=roc_year)

    sub.add_parser("batches", parents=[common], help="list imports")
    undo = sub.add_parser("undo", parents=[common], help="undo an import")
    undo.add_argument("batch", type=int)

    tpl = sub.add_parser("template", parents=[common], help="write a blank, documented workbook")
    tpl.add_argument("dataset", choices=sorted(DATASETS))
    tpl.add_argument("-o", "--output", type=Path, required=True)

    user = sub.add_parser("user", help="manage the users file (login and roles)")
    usub = user.add_subparsers(dest="user_command", required=True, parser_class=_Parser)
    users_common = argparse.ArgumentParser(add_help=False, parents=[common])
    users_common.add_argument(
        "--users-file", type=Path, help="the users file (else KPI_USERS_FILE)"
    )
    ua = usub.add_parser("add", parents=[users_common], help="add a user")
    ua.add_argument("name")
    ua.add_argument("--role", required=True, choices=["viewer", "uploader", "admin"])
    ua.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    ua.add_argument(
        "--no-password", action="store_true", help="single sign-on only (the name is an e-mail)"
    )
    ur = usub.add_parser("role", parents=[users_common], help="change a user's role")
    ur.add_argument("name")
    ur.add_argument("role", choices=["viewer", "uploader", "admin"])
    up = usub.add_parser("password", parents=[users_common], help="set a user's password")
    up.add_argument("name")
    up.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    urm = usub.add_parser("remove", parents=[users_common], help="remove a user")
    urm.add_argument("name")
    usub.add_parser("list", parents=[users_common], help="list users and roles")

    cp = sub.add_parser("copy", parents=[common], help="copy a whole store to an empty database")
    cp.add_argument("--from", dest="source", required=True, metavar="URL", help="the store to copy")
    cp.add_argument("--to", dest="target", required=True, metavar="URL", help="an empty database")
    cp.add_argument("--who", default="local", help="who the audit entry names")

    demo = sub.add_parser("demo", parents=[common], help="load or remove the bundled sample year")
    demo.add_argument("--remove", action="store_true")
    demo.add_argument(
        "--first-run", action="store_true", help="load only if this store has never started before"
    )
    return p


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        _fail(str(exc), "--json" in (sys.argv[1:] if argv is None else argv))
        return EXIT_USAGE
    except SystemExit as exc:  # argparse's --help
        return int(exc.code or 0)
    as_json = getattr(args, "json", False)
    lang = getattr(args, "lang", "zh-TW")
    try:
        return _run(args, as_json, lang)
    except UsageError as exc:
        _fail(str(exc), as_json)
        return EXIT_USAGE


def _fail(message: str, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"error": message}, ensure_ascii=False))
    else:
        print(message, file=sys.stderr)


def _emit(doc: dict, as_json: bool, text: str) -> None:
    try:
        print(json.dumps(doc, ensure_ascii=False, indent=2) if as_json else text, flush=True)
    except BrokenPipeError:
        # The reader (`| head`) went away: nothing left to say, and no traceback about it.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _engine(args):
    from kpi.engine import Engine
    from kpi.store import Store

    return Engine(Store(getattr(args, "db", None)))


def _run(args, as_json: bool, lang: str) -> int:
    cmd = args.command
    if cmd == "plan":
        return _plan(args, as_json, lang)
    if cmd == "copy":
        return _copy(args, as_json, lang)
    if cmd == "template":
        from kpi.templates import write_template

        write_template(args.dataset, args.output, lang=lang)
        _emit(
            {"file": str(args.output), "dataset": args.dataset},
            as_json,
            f"已寫出範本 {args.output}",
        )
        return EXIT_OK
    if cmd == "user":
        return _user(args, as_json, lang)
    engine = _engine(args)
    if cmd in ("close", "reopen"):
        return _close(engine, args, as_json, lang)
    if cmd == "target":
        return _target(engine, args, as_json, lang)
    if cmd == "import":
        return _import(engine, args, as_json, lang)
    if cmd == "status":
        return _status(engine, args, as_json, lang)
    if cmd == "report":
        return _report(engine, args, as_json, lang)
    if cmd == "coverage":
        return _coverage(engine, args, as_json, lang)
    if cmd == "batches":
        bs = [b.as_json() for b in engine.store.batches()]
        lines = [
            f"{b['batch']:>5}  {b['when']}  {b['status']:<7} {','.join(b['datasets']):<12} "
            f"{b['rows']:>7} 列  {b['who']}  {b['file']}"
            for b in bs
        ]
        _emit({"batches": bs}, as_json, "\n".join(lines) or "（尚無匯入紀錄）")
        return EXIT_OK
    if cmd == "undo":
        from kpi.store import StoreError

        try:
            restored = engine.undo(args.batch)
        except StoreError as exc:
            _fail(exc.message_en if lang == "en" else exc.message_zh, as_json)
            return EXIT_REFUSED
        _emit(
            {"batch": args.batch, "status": "undone", "keys": restored},
            as_json,
            f"已復原批次 {args.batch}",
        )
        return EXIT_OK
    if cmd == "demo":
        if args.remove:
            from kpi.store import StoreError

            try:
                n = engine.remove_sample()
            except StoreError as exc:
                _fail(exc.message_en if lang == "en" else exc.message_zh, as_json)
                return EXIT_REFUSED
            _emit({"removed_batches": n}, as_json, f"已移除範例資料（{n} 個批次）")
            return EXIT_OK
        results = engine.first_run() if args.first_run else engine.load_sample()
        refused = [r for r in results if r.status == "refused"]
        _emit(
            {"files": [r.as_json(lang) for r in results]},
            as_json,
            f"已載入範例資料：{len(results) - len(refused)} 個檔案"
            if results
            else "範例資料已經載入。",
        )
        return EXIT_REFUSED if refused else EXIT_OK
    raise UsageError(f"unknown command {cmd}")  # pragma: no cover - argparse guards this


def _copy(args, as_json: bool, lang: str) -> int:
    from kpi.copy import CopyError, copy_store

    try:
        result = copy_store(args.source, args.target, who=args.who)
    except CopyError as exc:
        _fail(exc.message_en if lang == "en" else exc.message_zh, as_json)
        return EXIT_REFUSED
    rows = sum(result.tables.values())
    _emit(
        result.as_json(),
        as_json,
        f"已複製 {result.source} → {result.target}：{len(result.tables)} 個資料表，"
        f"共 {rows:,} 列，核對相符。",
    )
    return EXIT_OK


def _import(engine, args, as_json: bool, lang: str) -> int:
    results = []
    for path in args.files:
        results.append(
            engine.import_path(
                path,
                year=args.year,
                quarter=args.quarter,
                replace=args.replace,
                dry_run=args.dry_run,
                context=engine.context(
                    args.year,
                    args.quarter,
                    "命令列 --year/--quarter",
                    "command line --year/--quarter",
                ),
            )
        )
    docs = [r.as_json(lang) for r in results]
    lines = []
    for d in docs:
        head = {"imported": "已匯入", "valid": "檢查通過（未寫入）", "refused": "拒絕匯入"}[
            d["status"]
        ]
        batch = f"，批次 {d['batch']}" if d["batch"] else ""
        lines.append(f"{d['file']}：{head}（{d['dataset'] or '—'}，{d['rows']} 列{batch}）")
        if d["status"] == "imported" and not d["batch"]:
            lines.append("  內容與資料庫相同，未新增批次。")
        if d["status"] == "valid":
            c = d["changes"]
            lines.append(
                f"  匯入將新增 {c['new']} 列、變更 {c['changed']} 列、未變更 {c['unchanged']} 列、移除 {c['removed']} 列"
            )
        for p in d["errors"]:
            lines.append(f"  錯誤 {_where(p)}{p['message']}")
        for p in d["warnings"]:
            lines.append(f"  警告 {_where(p)}{p['message']}")
    _emit({"files": docs}, as_json, "\n".join(lines))
    return EXIT_REFUSED if any(d["status"] == "refused" for d in docs) else EXIT_OK


def _where(p: dict) -> str:
    parts = []
    if p.get("sheet"):
        parts.append(f"[{p['sheet']}]")
    if p.get("row"):
        parts.append(f"第{p['row']}列")
    if p.get("column"):
        parts.append(f"{p['column']}欄" + (f"（{p['header']}）" if p.get("header") else ""))
    if p.get("value") not in (None, ""):
        parts.append(f"值「{p['value']}」")
    return (" ".join(parts) + "：") if parts else ""


def _close(engine, args, as_json: bool, lang: str) -> int:
    from kpi.i18n import fmt_quarter
    from kpi.store import StoreError

    try:
        if args.command == "close":
            done = engine.close_quarter(args.year, args.quarter)
        else:
            done = engine.reopen_quarter(args.year, args.quarter, args.reason)
    except StoreError as exc:
        _fail(exc.message_en if lang == "en" else exc.message_zh, as_json)
        return EXIT_REFUSED
    period = fmt_quarter(args.year, args.quarter, lang)
    text = (
        f"{period}已結算（期末鎖定），結算數值已保存。"
        if args.command == "close"
        else f"{period}已解除鎖定；結算時的數值仍保存在紀錄中。"
    )
    _emit(
        {**done.as_json(), "status": "closed" if args.command == "close" else "reopened"},
        as_json,
        text,
    )
    return EXIT_OK


def _target(engine, args, as_json: bool, lang: str) -> int:
    from kpi.store import StoreError

    try:
        if args.target_command == "set":
            old = engine.set_target(args.kpi, args.year, args.quarter, args.value, args.reason)
            kpi = engine.catalog.indicator(args.kpi).id
            doc = {
                "kpi": kpi,
                "year": args.year,
                "quarter": args.quarter,
                "old": old,
                "new": args.value,
            }
            _emit(
                doc, as_json, f"{kpi} {args.year}年第{args.quarter}季目標值：{old} → {args.value:g}"
            )
            return EXIT_OK
        revisions = engine.target_history(args.year, args.kpi)
    except StoreError as exc:
        _fail(exc.message_en if lang == "en" else exc.message_zh, as_json)
        return EXIT_REFUSED
    rows = [r.as_json() for r in revisions]
    lines = [
        f"{r['when']}  {r['kpi']:<5} 第{r['quarter']}季  {r['old']} → {r['new']}  {r['who']}：{r['reason']}"
        for r in rows
    ]
    _emit({"revisions": rows}, as_json, "\n".join(lines) or "（尚無目標值修訂）")
    return EXIT_OK


def _as_reported(engine, args, as_json: bool, lang: str) -> int:
    from kpi.closing import as_reported_json
    from kpi.i18n import fmt_quarter

    if args.program:
        raise UsageError("--as-reported shows the whole agency as closed; drop --program")
    # The newest close, also after a reopen: what was reported stays answerable.
    close = engine.quarter_close(args.year, args.quarter, reopened=True)
    if close is None:
        period = fmt_quarter(args.year, args.quarter, lang)
        _fail(
            f"{period} has never been closed: there are no figures as reported. Close it first (python -m kpi close)."
            if lang == "en"
            else f"{period}尚未結算過，沒有結算時的數值。請先結算（python -m kpi close）。",
            as_json,
        )
        return EXIT_REFUSED
    doc = as_reported_json(close, lang)
    closed = doc["as_reported"]
    lines = [
        f"{args.year}年第{args.quarter}季　結算時數值（{closed['closed_at']}，{closed['closed_by']}）"
    ]
    if closed["reopened_at"]:
        lines.append(f"（已於 {closed['reopened_at']} 解除鎖定：{closed['reopen_reason']}）")
    for g in doc["goals"]:
        ach = "—" if g["achievement"] is None else f"{g['achievement']:.1%}"
        lines.append(f"{g['id']} {g['light']:<6} {ach:>7}  {g['title']}")
    for k in doc["kpis"]:
        a = "—" if k["actual"] is None else f"{k['actual']:,.4g}"
        t = "—" if k["target"] is None else f"{k['target']:,.4g}"
        ach = "—" if k["achievement"] is None else f"{k['achievement']:.1%}"
        lines.append(f"  {k['id']:<5} {k['light']:<6} {a:>12} / {t:<10} {ach:>7}  {k['name']}")
    _emit(doc, as_json, "\n".join(lines))
    return EXIT_OK


def _status(engine, args, as_json: bool, lang: str) -> int:
    from kpi.relations import canonical_program

    if args.as_reported:
        return _as_reported(engine, args, as_json, lang)

    plan = engine.plan(args.year)
    known = {p.name for p in plan.programs}
    programs = []
    for name in args.program:
        canon = canonical_program(unicodedata.normalize("NFKC", name).strip())
        if canon not in known and canon not in engine.store.budget_programs(args.year):
            raise UsageError(f"找不到工作計畫「{name}」。可用：{'、'.join(sorted(known))}")
        programs.append(canon)
    st = engine.status(args.year, args.quarter, tuple(programs))
    doc = st.as_json(lang)
    lines = [
        f"{args.year}年第{args.quarter}季" + (f"（{'、'.join(programs)}）" if programs else "")
    ]
    for g in st.goals:
        ach = "—" if g.achievement is None else f"{g.achievement:.1%}"
        lines.append(f"{g.id} {g.light:<6} {ach:>7}  {g.title}")
    for k in st.kpis:
        a = "—" if k.actual is None else f"{k.actual:,.4g}"
        t = "—" if k.target is None else f"{k.target:,.4g}"
        ach = "—" if k.achievement is None else f"{k.achievement:.1%}"
        p = "—" if k.projection is None else f"{k.projection:,.4g}"
        pach = "—" if k.projected_achievement is None else f"{k.projected_achievement:.1%}"
        risk = " 預警" if k.at_risk else ""
        lines.append(
            f"  {k.id:<5} {k.light:<6} {a:>12} / {t:<10} {ach:>7}  "
            f"預估年底 {p:>10} {pach:>7}{risk}  {k.name_zh}"
        )
    bt = st.budget_totals
    if bt.allotted:
        lines.append(
            f"預算數 {bt.budget:,.0f} 元；累計分配數 {bt.allotted:,.0f} 元；執行數 {bt.executed:,.0f} 元"
        )
    _emit(doc, as_json, "\n".join(lines))
    return EXIT_OK


def _report(engine, args, as_json: bool, lang: str) -> int:
    from kpi.report import ReportError, build_report, render

    try:
        report = build_report(engine, args.year, args.quarter, args.program, lang)
    except ReportError as exc:
        _fail(exc.message(lang), as_json)
        return EXIT_REFUSED
    content = render(report, args.format)
    try:
        args.output.write_bytes(content)
    except OSError as exc:
        _fail(f"無法寫入 {args.output}：{exc.strerror}", as_json)
        return EXIT_REFUSED
    _emit(
        {"file": str(args.output), "format": args.format, "bytes": len(content)},
        as_json,
        f"Wrote the report to {args.output}" if lang == "en" else f"已寫出報告 {args.output}",
    )
    return EXIT_OK


def _coverage(engine, args, as_json: bool, lang: str) -> int:
    from kpi.coverage import coverage

    cov = coverage(engine.store, engine.catalog, args.year)
    en = lang == "en"

    def label(name: str) -> str:
        ds = DATASETS[name]
        return ds.label_en if en else ds.label_zh

    def cells(have: tuple[int, ...], periods: range) -> str:
        return " ".join(f"{'✓' if p in have else '·':>3}" for p in periods)

    width = 18
    lines = [
        f"{args.year + 1911} data completeness (✓ data, · none)"
        if en
        else f"{args.year}年 資料完整度（✓ 有資料，· 無資料）",
        f"{'':<{width}}" + " ".join(f"{m:>3}" for m in range(1, 13)),
    ]
    lines += [_pad(label(n), width) + cells(ms, range(1, 13)) for n, ms in cov.months.items()]
    lines.append(f"{'':<{width}}" + " ".join(f"{'Q' + str(q):>3}" for q in range(1, 5)))
    lines += [_pad(label(n), width) + cells(qs, range(1, 5)) for n, qs in cov.quarters.items()]
    for kpi, qs in cov.values.items():
        ind = engine.catalog.indicator(kpi)
        name = ind.name_en if en else ind.name_zh
        lines.append(f"{kpi:<{width}}" + cells(qs, range(1, 5)) + f"  {name}")
    _emit(cov.as_json(), as_json, "\n".join(lines))
    return EXIT_OK


def _pad(text: str, width: int) -> str:
    """Left-justify for a terminal, where a CJK character takes two columns."""
    used = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(1, width - used)


def _plan(args, as_json: bool, lang: str) -> int:
    from kpi.plan import PlanError, parse_plan

    if args.plan_command in ("parse", "import"):
        try:
            text = args.file.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            _fail(f"無法讀取計畫檔 {args.file}：{exc}", as_json)
            return EXIT_REFUSED
        try:
            plan = parse_plan(text, agency=getattr(args, "agency", ""))
        except PlanError as exc:
            _fail(str(exc), as_json)
            return EXIT_REFUSED
        if args.plan_command == "import":
            engine = _engine(args)
            engine.store.save_plan(plan.year, plan.agency, text)
        _emit(plan.to_json(), as_json, _plan_text(plan))
        return EXIT_OK
    engine = _engine(args)
    plan = engine.plan(args.year)
    _emit(plan.to_json(), as_json, _plan_text(plan))
    return EXIT_OK


def _plan_text(plan) -> str:
    c = plan.counts()
    lines = [
        f"{plan.year}年度施政計畫 {plan.agency}".strip(),
        f"目標 {c['goals']}、策略 {c['strategies']}、工作計畫 {c['programs']}、重要計畫項目 {c['items']}、實施內容 {c['actions']}",
    ]
    for g in plan.goals:
        lines.append(f"{g.id} {g.title}")
        lines.extend(f"   {s.id} {s.title}" for s in g.strategies)
    for p in plan.programs:
        lines.append(f"■ {p.name}")
        lines.extend(f"   - {i.name}（{len(i.actions)} 項）" for i in p.items)
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


def _password(args) -> str:
    """The new password: the first line of stdin, or typed twice at a prompt."""
    import getpass

    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise UsageError("no terminal to ask for the password: use --password-stdin")
    first = getpass.getpass("密碼 Password: ")
    if getpass.getpass("再輸入一次 Again: ") != first:
        raise UsageError("the two passwords differ")
    return first


def _user(args, as_json: bool, lang: str) -> int:
    """user add|role|password|remove|list: the users file; every change is audited."""
    import getpass

    from kpi.auth import AuthError, Role, UsersFile, users_file_path
    from kpi.store import Store

    path = args.users_file or users_file_path()
    if path is None:
        raise UsageError("no users file: give --users-file or set KPI_USERS_FILE")
    users = UsersFile(path)
    cmd = args.user_command
    try:
        if cmd == "list":
            rows = [{"name": a.name, "role": a.role.key} for a in users.accounts().values()]
            lines = [f"{r['name']:<24} {r['role']}" for r in rows]
            _emit({"users": rows}, as_json, "\n".join(lines) or "（尚無使用者）")
            return EXIT_OK
        detail: dict = {"user": args.name}
        if cmd == "add":
            password = None if args.no_password else _password(args)
            users.add(args.name, Role.parse(args.role), password)
            detail["role"] = args.role
        elif cmd == "role":
            detail["old_role"] = users.set_role(args.name, Role.parse(args.role)).key
            detail["role"] = args.role
        elif cmd == "password":
            users.set_password(args.name, _password(args))
        elif cmd == "remove":
            users.remove(args.name)
    except AuthError as exc:
        _fail(exc.message_en if lang == "en" else exc.message_zh, as_json)
        return EXIT_REFUSED
    store = Store(getattr(args, "db", None))
    store.record(getpass.getuser(), f"user_{cmd}", {**detail, "file": str(path)})
    _emit({**detail, "action": cmd}, as_json, f"使用者 {args.name}：{cmd} 完成")
    return EXIT_OK
