"""The quarterly briefing report: every figure equals Engine.status, the files are well made,
the HTML is self-contained and escaped, the CLI keeps its exit codes, the overview offers it."""

from __future__ import annotations

import dataclasses
import io
import re
import zipfile
from html.parser import HTMLParser
from xml.etree import ElementTree

import openpyxl
import pytest
from plotly.offline import get_plotlyjs

from kpi import report
from kpi.catalog import LIGHT_COLOURS, LIGHT_EN, LIGHT_ZH
from kpi.cli import main
from kpi.engine import Engine
from kpi.figures import KpiFigure
from kpi.i18n import fmt_datetime
from kpi.ingest.read import read_workbook
from kpi.store import Store
from tests.app_helpers import app_store, errors, open_page, store_url
from tests.workbooks import ods_bytes

YEAR = 108
HEADERS = {
    "zh-TW": ["施政目標", "衡量指標", "年度目標值", "累計目標值", "累計實際值", "達成度", "燈號", "年底預估", "說明"],
    "en": [
        "Goal",
        "Indicator",
        "Annual target",
        "Target to date",
        "Actual to date",
        "Achievement",
        "Light",
        "Year-end projection",
        "Commentary",
    ],
}  # fmt: skip
LIGHT_NAMES = {"zh-TW": LIGHT_ZH, "en": LIGHT_EN}
# (indicator, note): commentary a spreadsheet would run as a formula, or a browser as a script.
HOSTILE = [
    ("K1.1", '=HYPERLINK("http://evil.example","點我")'),
    ("K2.1", "+1+1"),
    ("K3.1", "-2+3 扣除延期會議"),
    ("K4.1", "@SUM(A1)"),
    ("K5.1", "<script>alert('x')</script> 觸及人次 & 其他"),
]
CASES = [
    (3, (), "zh-TW"),
    (2, ("領事事務管理",), "en"),
    (4, ("國際會議及交流", "外交管理業務"), "zh-TW"),
]


@pytest.fixture(scope="module")
def eng(tmp_path_factory):
    """The sample year (the app and the tests on the same store)."""
    with app_store(store_url(tmp_path_factory, sample=True)) as engine:
        yield engine


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """The sample year with commentary that tries formulas and scripts, and a revised target."""
    store = Store(store_url(tmp_path_factory, sample=True))
    engine = Engine(store)
    rows = [["指標代碼", "年度", "季別", "說明"]] + [[k, YEAR, "第3季", n] for k, n in HOSTILE]
    result = engine.import_bytes(ods_bytes({"指標填報": rows}), "notes.ods")
    assert result.status == "imported", result.as_json()
    engine.set_target("K6.1", YEAR, 3, 380000, "配合簽證政策調整")
    yield engine
    store.dispose()


def xlsx_sheet(content: bytes):
    return openpyxl.load_workbook(io.BytesIO(content)).active


def ods_rows(content: bytes) -> list[list]:
    """The .ods as the project's own reader sees an upload of it."""
    book = read_workbook(content, "report.ods")
    assert len(book.sheets) == 1
    return book.sheets[0].rows


def blank(value) -> bool:
    return value in (None, "")


def assert_row_matches(row: list, k: KpiFigure, lang: str, note: str | None = None) -> None:
    """One table row against the engine's figure: numbers as numbers, '—' where there is none."""
    goal, indicator, annual, target, actual, ach, light, projection, comment = row
    assert goal.startswith(f"{k.goal} ")
    assert indicator.startswith(f"{k.id} ")
    assert indicator.endswith(k.name_en if lang == "en" else k.name_zh)
    for cell, value in ((annual, k.annual_target), (target, k.target), (actual, k.actual)):
        assert cell == report.MISSING if value is None else cell == pytest.approx(value)
    assert ach == report.MISSING if k.achievement is None else ach == pytest.approx(k.achievement)
    assert light == LIGHT_NAMES[lang][k.light]
    if k.projection is None:
        assert projection == report.MISSING
    else:
        assert projection == pytest.approx(k.projection)
    expected = note if note is not None else (k.note or "")
    assert (comment or "") == expected


# -- every figure equals Engine.status ------------------------------------------------------------


@pytest.mark.parametrize(("quarter", "programs", "lang"), CASES)
def test_xlsx_rows_are_the_engines_figures(eng, quarter, programs, lang):
    status = eng.status(YEAR, quarter, programs)
    rep = report.build_report(eng, YEAR, quarter, programs, lang)
    ws = xlsx_sheet(report.to_xlsx(rep))
    rows = [[c.value for c in r] for r in ws.iter_rows(min_row=3)]
    assert [c.value for c in ws[2]] == HEADERS[lang]
    assert len(rows) == len(status.kpis) > 0
    for row, k in zip(rows, status.kpis, strict=True):
        assert_row_matches(row, k, lang)


@pytest.mark.parametrize(("quarter", "programs", "lang"), CASES)
def test_ods_read_by_our_own_reader_has_the_engines_figures(eng, quarter, programs, lang):
    status = eng.status(YEAR, quarter, programs)
    rep = report.build_report(eng, YEAR, quarter, programs, lang)
    rows = ods_rows(report.to_ods(rep))
    assert rows[1] == HEADERS[lang]
    body = rows[2:]
    assert len(body) == len(status.kpis) > 0
    for row, k in zip(body, status.kpis, strict=True):
        assert_row_matches(row, k, lang)


def with_projections(status):
    """The status with K1.1 projected on track and K3.1 at risk (the sample year has no
    previous year, so on its own every at-risk indicator is also red)."""
    filled = {
        "K1.1": dict(projection=41.0, projected_achievement=1.025, projected_light="green"),
        "K3.1": dict(projection=40.0, projected_achievement=40 / 48, projected_light="red"),
    }
    kpis = tuple(
        dataclasses.replace(k, annual_target=k.target * 4 / 3, **filled[k.id])
        if k.id in filled
        else k
        for k in status.kpis
    )
    return dataclasses.replace(status, kpis=kpis)


def test_projections_and_annual_targets_are_shown_when_present(eng, monkeypatch):
    real = Engine.status
    monkeypatch.setattr(Engine, "status", lambda self, *a: with_projections(real(self, *a)))
    status = eng.status(YEAR, 3)
    assert all(k.projection is not None for k in status.kpis if k.actual is not None)
    rep = report.build_report(eng, YEAR, 3)
    rows = [[c.value for c in r] for r in xlsx_sheet(report.to_xlsx(rep)).iter_rows(min_row=3)]
    for row, k in zip(rows, status.kpis, strict=True):
        assert_row_matches(row, k, "zh-TW")
    for row, k in zip(ods_rows(report.to_ods(rep))[2:], status.kpis, strict=True):
        assert_row_matches(row, k, "zh-TW")
    flagged = [k.id for k in status.kpis if k.light == "red" or k.at_risk]
    assert "K3.1" in flagged and "K1.1" not in flagged
    assert [k.id for k in rep.flagged] == flagged
    page = report.to_html(rep).decode()
    risks = page[page.index("紅燈及預警指標") : page.index('<section class="goal"')]
    assert "K3.1" in risks and "［紅燈、預警］" in risks and "K1.1" not in risks


# -- the spreadsheets' make ----------------------------------------------------------------------


def test_xlsx_formats_fills_title_and_frozen_header(eng):
    rep = report.build_report(eng, YEAR, 3, ("領事事務管理",))
    ws = xlsx_sheet(report.to_xlsx(rep))
    status = eng.status(YEAR, 3, ("領事事務管理",))
    title = ws["A1"].value
    for part in ("外交部", "108年", "第3季", "領事事務管理", "資料截至"):
        assert part in title
    assert "A1:I1" in {str(r) for r in ws.merged_cells.ranges}
    assert ws.freeze_panes == "A3"
    formats = {"count": "#,##0", "number": "#,##0.00", "percent": "0.0%"}
    for r, k in enumerate(status.kpis, start=3):
        fmt = formats[eng.catalog.indicator(k.id).format]
        for col in "DE":  # 累計目標值, 累計實際值
            assert ws[f"{col}{r}"].data_type == "n"
            assert ws[f"{col}{r}"].number_format == fmt
        assert ws[f"F{r}"].number_format == "0.0%"
        assert ws[f"G{r}"].fill.fgColor.rgb.endswith(LIGHT_COLOURS[k.light].lstrip("#").upper())
    assert ws["D3"].number_format == "#,##0"  # K6.1, a count: thousands separators


ODF = {
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
    "style": "urn:oasis:names:tc:opendocument:xmlns:style:1.0",
    "fo": "urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0",
    "number": "urn:oasis:names:tc:opendocument:xmlns:datastyle:1.0",
}


def q(prefix: str, name: str) -> str:
    return f"{{{ODF[prefix]}}}{name}"


def test_ods_is_a_proper_odf_spreadsheet_with_typed_cells_and_colours(eng):
    rep = report.build_report(eng, YEAR, 3)
    content = report.to_ods(rep)
    with zipfile.ZipFile(io.BytesIO(content)) as z:
        first = z.infolist()[0]
        assert first.filename == "mimetype" and first.compress_type == zipfile.ZIP_STORED
        assert z.read("mimetype") == b"application/vnd.oasis.opendocument.spreadsheet"
        assert {"content.xml", "styles.xml", "META-INF/manifest.xml"} <= set(z.namelist())
        root = ElementTree.fromstring(z.read("content.xml"))
        settings = z.read("settings.xml").decode()
    assert 'config:name="VerticalSplitPosition"' in settings  # the header is frozen
    styles = {s.get(q("style", "name")): s for s in root.iter(q("style", "style"))}
    percent_styles = {s.get(q("style", "name")) for s in root.iter(q("number", "percentage-style"))}
    rows = list(root.iter(q("table", "table-row")))
    status = eng.status(YEAR, 3)
    for row, k in zip(rows[2:], status.kpis, strict=True):
        cells = list(row.iter(q("table", "table-cell")))
        target, achievement, light = cells[3], cells[5], cells[6]
        percent = eng.catalog.indicator(k.id).format == "percent"
        assert target.get(q("office", "value-type")) == ("percentage" if percent else "float")
        assert float(target.get(q("office", "value"))) == pytest.approx(k.target)
        assert achievement.get(q("office", "value-type")) == "percentage"
        assert float(achievement.get(q("office", "value"))) == pytest.approx(k.achievement)
        data_style = styles[achievement.get(q("table", "style-name"))].get(
            q("style", "data-style-name")
        )
        assert data_style in percent_styles
        props = styles[light.get(q("table", "style-name"))].find(
            q("style", "table-cell-properties")
        )
        assert props.get(q("fo", "background-color")) == LIGHT_COLOURS[k.light]
    # Thousands separators on a count (K6.1 is the sixth indicator).
    k61 = list(rows[7].iter(q("table", "table-cell")))[4]
    number_style = styles[k61.get(q("table", "style-name"))].get(q("style", "data-style-name"))
    grouping = [
        n.get(q("number", "grouping"))
        for s in root.iter(q("number", "number-style"))
        if s.get(q("style", "name")) == number_style
        for n in s.iter(q("number", "number"))
    ]
    assert grouping == ["true"]


def test_commentary_cannot_run_as_a_formula(hostile):
    rep = report.build_report(hostile, YEAR, 3)
    ws = xlsx_sheet(report.to_xlsx(rep))
    notes = {r[1].value.split()[0]: r[8] for r in ws.iter_rows(min_row=3)}
    for kpi, note in HOSTILE:
        cell = notes[kpi]
        assert cell.data_type == "s"
        expected = "'" + note if note[0] in "=+-@" else note
        assert cell.value == expected
    assert not [c for r in ws.iter_rows() for c in r if c.data_type == "f"]
    rows = ods_rows(report.to_ods(rep))
    ods_notes = {r[1].split()[0]: r[8] for r in rows[2:]}
    for kpi, note in HOSTILE:
        assert ods_notes[kpi] == ("'" + note if note[0] in "=+-@" else note)
    with zipfile.ZipFile(io.BytesIO(report.to_ods(rep))) as z:
        assert b"table:formula" not in z.read("content.xml")


def test_control_characters_cannot_hide_a_formula(eng):
    rep = report.build_report(eng, YEAR, 3)
    first, *rest = rep.status.kpis
    sneaky = dataclasses.replace(first, note="\x08=1+1\x1f")
    rep = dataclasses.replace(rep, status=dataclasses.replace(rep.status, kpis=(sneaky, *rest)))
    assert xlsx_sheet(report.to_xlsx(rep))["I3"].value == "'=1+1"
    assert ods_rows(report.to_ods(rep))[2][8] == "'=1+1"


def test_a_revised_target_shows_the_original_beside_it(hostile):
    rep = report.build_report(hostile, YEAR, 3)
    k = next(k for k in rep.status.kpis if k.id == "K6.1")
    assert (k.target, k.original_target) == (380000, 375000)
    rows = {r[1].split()[0]: r for r in ods_rows(report.to_ods(rep))[2:]}
    assert rows["K6.1"][3] == 380000
    assert rows["K6.1"][8] == "累計目標值已修正，原為 375,000。"
    assert "原 375,000" in report.to_html(rep).decode()


# -- the HTML -----------------------------------------------------------------------------------


class Page(HTMLParser):
    """Every src/href, every script's text and the sections of an HTML document."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.links: list[str] = []
        self.scripts: list[str] = []
        self.sections: list[dict[str, str | None]] = []
        self.tags: list[str] = []
        self._in_script = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        attrs = dict(attrs)
        self.links += [v or "" for k, v in attrs.items() if k in ("src", "href")]
        if tag == "script":
            self._in_script = True
            self.scripts.append("")
        if tag == "section":
            self.sections.append(attrs)

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data


@pytest.mark.parametrize(("quarter", "programs", "lang"), CASES)
def test_html_is_self_contained_printable_and_has_a_section_per_goal(eng, quarter, programs, lang):
    rep = report.build_report(eng, YEAR, quarter, programs, lang)
    text = report.to_html(rep).decode("utf-8")
    page = Page(text)
    assert not [link for link in page.links if re.search(r"https?:", link, re.IGNORECASE)]
    assert "<link" not in text and "@import" not in text and "url(" not in text.split("<script")[0]
    plotly = get_plotlyjs()
    assert text.count(plotly) == 1
    assert [s for s in page.scripts if len(s) > 100_000] == [plotly]
    assert re.search(r"@page\s*\{\s*size:\s*A4", text)
    assert re.search(r"section\.goal[^{]*\{[^}]*break-before:\s*page", text)
    status = eng.status(YEAR, quarter, programs)
    in_scope = [g.id for g in status.goals if sum(g.lights.values())]
    goals = [s["id"] for s in page.sections if s.get("class") == "goal"]
    assert goals == in_scope and goals
    charts = text.count('class="plotly-graph-div"')
    assert charts == len(goals) + (1 if rep.budget.month else 0)
    # The filters and the data's time are stated.
    heading = "Data as of" if lang == "en" else "資料截至"
    assert heading in text and fmt_datetime(rep.as_of, lang) in text
    for name in programs:
        assert name in text
    assert ('lang="en"' in text) == (lang == "en")
    for k in status.kpis:
        assert (k.name_en if lang == "en" else k.name_zh) in text


def test_html_escapes_uploaded_commentary(hostile):
    text = report.to_html(report.build_report(hostile, YEAR, 3)).decode("utf-8")
    page = Page(text)
    assert "<script>alert" not in text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; 觸及人次 &amp; 其他" in text
    # Only Plotly's own scripts: the library and one call per chart.
    assert all("alert(" not in s for s in page.scripts)
    assert page.tags.count("script") == 1 + text.count('class="plotly-graph-div"')


def test_html_lists_red_and_at_risk_indicators_with_commentary_and_the_budget(eng):
    rep = report.build_report(eng, YEAR, 3)
    text = report.to_html(rep).decode("utf-8")
    risks = text[text.index("紅燈及預警指標") : text.index('<section class="goal"')]
    reds = [k for k in rep.status.kpis if k.light == "red"]
    assert reds
    for k in reds:
        assert k.id in risks and k.note in risks
    budget = text[text.index('<section class="budget">') :]
    assert "經常門" in budget and "資本門" in budget and "合計" in budget
    total = rep.budget.table[rep.budget.table["row"] == "total"].iloc[0]
    assert f"{total['allotted'] / 1000:,.0f}" in budget


# -- the command line ----------------------------------------------------------------------------


@pytest.fixture
def cli(eng, capsys):
    def run(*args: str) -> tuple[int, str, str]:
        code = main(["--db", eng.store.url, *map(str, args)])
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.mark.parametrize("fmt", report.FORMATS)
def test_cli_writes_each_format(cli, tmp_path, fmt):
    out = tmp_path / f"r.{fmt}"
    code, stdout, err = cli(
        "report", "--year", "2019", "--quarter", "Q3", "--program", "領事事務管理",
        "--format", fmt, "-o", out,
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert str(out) in stdout
    content = out.read_bytes()
    if fmt == "xlsx":
        assert "領事事務管理" in xlsx_sheet(content)["A1"].value
    elif fmt == "ods":
        assert "領事事務管理" in ods_rows(content)[0][0]
    else:
        assert content.startswith(b"<!DOCTYPE html>")


def test_cli_refuses_an_unknown_program_and_a_year_without_plan(cli, tmp_path):
    out = tmp_path / "r.html"
    code, _, err = cli("report", "--year", "108", "--quarter", "3", "--program", "不存在的計畫",
                       "--format", "html", "-o", out)  # fmt: skip
    assert code == 1 and "不存在的計畫" in err and "外交管理業務" in err
    code, _, err = cli("--lang", "en", "report", "--year", "108", "--quarter", "3",
                       "--program", "Nope", "--format", "html", "-o", out)  # fmt: skip
    assert code == 1 and "There is no work program 'Nope'" in err
    code, _, err = cli("report", "--year", "120", "--quarter", "1", "--format", "html", "-o", out)
    assert code == 1 and "120年沒有施政計畫" in err
    assert not out.exists()


@pytest.mark.parametrize(
    "args",
    [
        ("--year", "108", "--quarter", "3", "--format", "html"),  # no -o
        ("--year", "108", "--quarter", "3", "-o", "r.html"),  # no --format
        ("--year", "108", "--quarter", "3", "--format", "pdf", "-o", "r.pdf"),
        ("--year", "108", "--quarter", "5", "--format", "html", "-o", "r.html"),
        ("--quarter", "3", "--format", "html", "-o", "r.html"),  # no --year
    ],
)
def test_cli_usage_errors_exit_2(cli, args):
    code, out, err = cli("report", *args)
    assert code == 2 and out == "" and "error" in err


# -- the overview's download -----------------------------------------------------------------------


def test_overview_prepares_the_report_on_request_then_offers_it(eng):
    at = open_page("pages/overview.py", year=YEAR, quarter=3, programs=[])
    assert errors(at) == []
    assert "report_download" not in {b.key for b in at.download_button}
    assert "_report_file" not in at.session_state
    at.radio(key="report_format").set_value("xlsx").run()
    at.button(key="report_prepare").click().run()
    assert errors(at) == []
    assert "report_download" in {b.key for b in at.download_button}
    _, name, content = at.session_state["_report_file"]
    assert name == "report_108Q3.xlsx"
    rows = [[c.value for c in r] for r in xlsx_sheet(content).iter_rows(min_row=3)]
    for row, k in zip(rows, eng.status(YEAR, 3).kpis, strict=True):
        assert_row_matches(row, k, "zh-TW")
    # Another format (or other filters) asks again.
    at.radio(key="report_format").set_value("html").run()
    assert "report_download" not in {b.key for b in at.download_button}
    assert at.button(key="report_prepare")
