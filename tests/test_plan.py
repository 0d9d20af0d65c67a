"""The 施政計畫 parser: the bundled seed, layout variants, malformed input, random plans."""

from __future__ import annotations

import dataclasses
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kpi.paths import PLANS_DIR
from kpi.plan import (
    Action,
    Goal,
    Plan,
    PlanError,
    PlanItem,
    Program,
    Strategy,
    chinese_number,
    load_bundled_plan,
    parse_plan,
    read_plan_file,
)

SEED = (PLANS_DIR / "108_外交部.txt").read_text(encoding="utf-8")

# 一 … 二十九, written out as the plans write them.
_DIGITS = "一二三四五六七八九"
NUMERALS = [*_DIGITS, "十", *(f"十{d}" for d in _DIGITS), "二十", *(f"二十{d}" for d in _DIGITS)]


def test_seed_counts_and_names():
    plan = parse_plan(SEED)
    assert plan.year == 108
    assert plan.counts() == {
        "goals": 7,
        "strategies": 22,
        "programs": 5,
        "items": 11,
        "actions": 42,
    }
    assert plan.program_names == (
        "外交管理業務",
        "國際會議及交流",
        "國際合作及關懷",
        "領事事務管理",
        "營建工程",
    )
    assert [g.id for g in plan.goals] == [f"G{n}" for n in range(1, 8)]
    assert plan.goal("G1").title == "鞏固我與邦交國外交關係"
    assert plan.goal("g7").strategies[0] == Strategy(
        "G7.S1", "落實分配預算執行，提升資本門預算執行率。"
    )
    assert [s.id for s in plan.goal("G2").strategies] == [f"G2.S{n}" for n in range(1, 6)]
    assert plan.vision.startswith("本部依循以臺灣為主")


def test_seed_table_details():
    plan = parse_plan(SEED)
    meetings = plan.program("國際會議及交流")
    assert [i.name for i in meetings.items] == [
        "參與國際組織活動",
        "協助各種國際交流",
        "出國訪問",
        "訪賓接待",
    ]
    ngo = meetings.item("參與國際組織活動").actions[-1]
    assert ngo.number == 7
    assert ngo.text == "輔導國內NGO與國際接軌："
    assert ngo.sub_items == (
        "積極輔導協助我國內NGO參與國際非政府組織（INGO）年會或重要活動，及聯合國非政府組織周邊會議。",
        "鼓勵我國內NGO爭取在INGO中擔任要職。",
    )
    # Content without numbering is one action.
    (only,) = plan.program("外交管理業務").item("各地區工作會報").actions
    assert only.number == 1 and only.text.startswith("審酌需要")
    consular = plan.program("領事事務管理")
    assert consular.items[0].name == "領事事務管理" and consular.items[0].category == "其它"


def test_bundled_plan_takes_agency_from_file_name():
    plan = load_bundled_plan()
    assert (plan.year, plan.agency) == (108, "外交部")
    assert parse_plan(SEED).agency == ""  # 「本部」 names no agency
    assert parse_plan(SEED, agency="外交部").agency == "外交部"


def test_lookups_raise_key_error_for_unknown():
    plan = parse_plan(SEED)
    with pytest.raises(KeyError):
        plan.goal("G8")
    with pytest.raises(KeyError):
        plan.program("一般行政")


def test_json_shape_and_round_trip():
    plan = parse_plan(SEED, agency="外交部")
    data = plan.to_json()
    assert set(data) == {"year", "agency", "goals", "programs", "counts"}
    assert data["goals"][0] == {
        "id": "G1",
        "title": "鞏固我與邦交國外交關係",
        "strategies": [
            {"id": "G1.S1", "title": plan.goals[0].strategies[0].title},
            {"id": "G1.S2", "title": plan.goals[0].strategies[1].title},
        ],
    }
    action = data["programs"][0]["items"][0]["actions"][0]
    assert set(action) == {"number", "text", "sub_items"}
    assert set(data["programs"][0]["items"][0]) == {"name", "category", "actions"}
    assert data["counts"]["actions"] == 42
    assert Plan.from_json(data) == dataclasses.replace(plan, vision="")


@pytest.mark.parametrize(
    "variant",
    [
        pytest.param(lambda t: t.replace("\n", "\r\n"), id="crlf"),
        pytest.param(lambda t: "\ufeff" + t, id="bom"),
        pytest.param(lambda t: "\ufeff" + t.replace("\n", "\r\n"), id="bom-crlf"),
        pytest.param(lambda t: t.replace("\n", "  \n"), id="trailing-spaces"),
        pytest.param(lambda t: t.replace("\n\n", "\n \u3000 \n"), id="whitespace-only-blank-lines"),
        pytest.param(lambda t: t.rstrip("\n"), id="no-final-newline"),
        pytest.param(
            lambda t: t + "\n\n參、其他事項\n本計畫如有未盡事宜，另行補充。\n", id="third-section"
        ),
        pytest.param(
            lambda t: re.sub(r"^（([一二三四五六七八九十]+)）", r"(\1)", t, flags=re.M),
            id="half-width-parens",
        ),
        pytest.param(
            lambda t: t.replace("\t\n\t製作國情資料", "\t外交管理業務\n\t製作國情資料"),
            id="program-name-repeated",
        ),
        pytest.param(lambda t: t.replace("編定108年度", "編定１０８年度"), id="full-width-year"),
    ],
)
def test_layout_variants_parse_like_the_seed(variant):
    assert parse_plan(variant(SEED)) == parse_plan(SEED)


def test_year_forms():
    body = SEED.split("\n", 2)[2]
    assert parse_plan("前言\n本會編定2020年度施政計畫。\n" + body).year == 109
    assert parse_plan("前言。\n" + body, default_year=110).year == 110
    with pytest.raises(PlanError, match="年度"):
        parse_plan("前言。\n" + body)


def test_agency_from_title_line():
    text = "經濟部108年度施政計畫\n" + SEED
    plan = parse_plan(text)
    assert plan.agency == "經濟部"
    assert plan.vision == parse_plan(SEED).vision


def test_read_plan_file_big5(tmp_path):
    text = (
        "本部施政願景。\n編定109年度施政計畫。\n\n壹、年度施政目標及策略\n一、目標\n（一）策略\n\n"
        "貳、年度重要計畫\n\t工作計畫名稱\n\t重要計畫項目\n\t計畫類別\n\t實施內容\n\n"
        "\t一般行政\n\t行政管理\n\t其它\n\t一、辦理行政。\n"
    )
    path = tmp_path / "109_經濟部.txt"
    path.write_bytes(text.encode("cp950"))
    plan = read_plan_file(path)
    assert (plan.year, plan.agency) == (109, "經濟部")
    assert plan.programs[0].items[0].actions == (Action(1, "辦理行政。"),)


def test_lead_in_before_numbered_actions_is_kept():
    text = SEED.replace("\t一、編印國情資料", "\t為提升國家形象，辦理下列事項：\n一、編印國情資料")
    actions = parse_plan(text).program("外交管理業務").item("製作國情資料").actions
    assert [a.number for a in actions] == [0, 1, 2]
    assert actions[0].text == "為提升國家形象，辦理下列事項："


def test_repeated_item_rows_are_merged():
    text = SEED.rstrip("\n") + "\n\n\t\n\t購建駐外機構館官舍\n\t其它\n\t一、續行辦理。\n"
    item = parse_plan(text).program("營建工程").item("購建駐外機構館官舍")
    assert [a.text for a in item.actions][-1] == "續行辦理。"
    assert parse_plan(text).counts()["items"] == 11


@pytest.mark.parametrize(("numeral", "value"), [(n, i) for i, n in enumerate(NUMERALS, start=1)])
def test_chinese_numbers(numeral, value):
    assert chinese_number(numeral) == value


@pytest.mark.parametrize(("numeral", "value"), [("一百零八", 108), ("九十九", 99), ("一百", 100)])
def test_larger_chinese_numbers(numeral, value):
    assert chinese_number(numeral) == value


@pytest.mark.parametrize("bad", ["", "零", "一二", "十十", "百十百", "甲"])
def test_not_chinese_numbers(bad):
    with pytest.raises(ValueError):
        chinese_number(bad)


def _line_of(text: str, needle: str) -> int:
    return text.split("\n").index(needle) + 1


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        pytest.param(
            lambda t: t.replace("壹、年度施政目標及策略", "年度施政目標及策略"),
            "找不到「壹、年度施政目標及策略」",
            id="no-goals-section",
        ),
        pytest.param(
            lambda t: (
                t.split("壹、")[0]
                + "壹、年度施政目標及策略\n本年度目標另案陳報。\n\n貳、"
                + t.split("貳、")[1]
            ),
            "找不到任何目標",
            id="no-goals",
        ),
        pytest.param(
            lambda t: t.replace("貳、年度重要計畫", "年度重要計畫"),
            "找不到「貳、年度重要計畫」",
            id="no-table-section",
        ),
        pytest.param(
            lambda t: t.split("貳、")[0] + "貳、年度重要計畫\n本年度無重要計畫。\n",
            "找不到表格",
            id="no-table",
        ),
        pytest.param(
            lambda t: t.replace(
                "\t外交管理業務\n\t各地區工作會報\n\t其它\n", "\t外交管理業務\n\t各地區工作會報\n"
            ),
            "3 個儲存格，應為 4 個",
            id="three-cells",
        ),
        pytest.param(
            lambda t: t.replace("三、務實參與", "四、務實參與"),
            "目標編號",
            id="goal-numbering-skips",
        ),
        pytest.param(
            lambda t: t.replace("（三）加強我與無邦交", "（四）加強我與無邦交"),
            "策略編號",
            id="strategy-numbering-skips",
        ),
        pytest.param(
            lambda t: t.replace(
                "壹、年度施政目標及策略\n", "壹、年度施政目標及策略\n（一）沒有目標的策略\n"
            ),
            "出現在任何目標",
            id="strategy-before-goal",
        ),
        pytest.param(
            lambda t: t.replace("\t外交管理業務\n\t各地區工作會報", "\t\n\t各地區工作會報"),
            "工作計畫名稱是空白的",
            id="first-program-blank",
        ),
        pytest.param(
            lambda t: t.replace("\t製作國情資料", "\t"), "重要計畫項目是空白的", id="item-blank"
        ),
        pytest.param(
            lambda t: t.replace("\n\n\t國際會議及交流", "\n\n附註：單位千元\n\n\t國際會議及交流"),
            "不以 TAB 開頭",
            id="stray-text-between-rows",
        ),
    ],
)
def test_malformed_plans_say_what_and_where(mangle, message):
    with pytest.raises(PlanError, match=message) as info:
        parse_plan(mangle(SEED))
    text = str(info.value)
    assert re.search(r"[\u4e00-\u9fff]", text), "the message is in Chinese"


def test_error_names_the_line():
    text = SEED.replace(
        "\t外交管理業務\n\t各地區工作會報\n\t其它\n", "\t外交管理業務\n\t各地區工作會報\n"
    )
    with pytest.raises(PlanError) as info:
        parse_plan(text)
    assert info.value.line == _line_of(text, "\t外交管理業務")
    assert str(info.value).startswith(f"第 {info.value.line} 行：")


def test_plan_error_is_a_value_error():
    assert issubclass(PlanError, ValueError)


# --- property: random plans rendered in the layout parse back to themselves ------------

_NUMBERING = re.compile(
    r"^([一二三四五六七八九十百零]+、|[（(]\s*[一二三四五六七八九十百零]+\s*[）)])"
)
_SECTION_CHARS = "壹貳參肆伍陸柒捌玖拾"
_CHARS = st.one_of(
    st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),
    st.sampled_from("一二三十、（）()「」，。：；ABCxyz019 -.,&"),
)


def _plain(text: str) -> bool:
    """Text that cannot be mistaken for numbering, a section heading or the year line."""
    return (
        bool(text)
        and not _NUMBERING.match(text)
        and text[0] not in _SECTION_CHARS
        and "年度" not in text
        and "施政計畫" not in text
    )


TEXT = st.text(_CHARS, min_size=1, max_size=16).map(str.strip).filter(_plain)
WRAPPED = st.lists(TEXT, min_size=1, max_size=3)  # one cell or title over 1–3 lines


def wrapped(pieces: list[str]) -> str:
    """How wrapped lines read back: run together, with a space only between ASCII text."""
    out = pieces[0]
    for piece in pieces[1:]:
        out += (" " if out[-1].isascii() and piece[0].isascii() else "") + piece
    return out


@st.composite
def random_plans(draw):
    """(text, expected Plan): a random plan and its rendering in the 施政計畫 layout."""
    year = draw(st.integers(90, 150))
    agency = draw(st.sampled_from(["", "外交部", "行政院農業委員會"]))
    vision = draw(TEXT)
    goals_raw = draw(
        st.lists(st.tuples(WRAPPED, st.lists(WRAPPED, max_size=4)), min_size=1, max_size=24)
    )
    program_names = draw(st.lists(WRAPPED, min_size=1, max_size=4, unique_by=wrapped))
    programs_raw = []
    for name in program_names:
        items = draw(
            st.lists(
                st.tuples(
                    WRAPPED,  # item name
                    WRAPPED,  # category
                    st.booleans(),  # unnumbered content (one action)
                    st.lists(st.tuples(WRAPPED, st.lists(WRAPPED, max_size=3)), max_size=12),
                    st.booleans(),  # repeat the program name instead of a lone TAB
                ),
                min_size=1,
                max_size=3,
                unique_by=lambda item: wrapped(item[0]),
            )
        )
        programs_raw.append((name, items))
    eol = draw(st.sampled_from(["\n", "\r\n"]))
    blank = draw(st.sampled_from(["", " ", "\u3000", "  "]))
    trailing = draw(st.sampled_from(["", " ", "  "]))
    full_width = draw(st.booleans())
    third_section = draw(st.booleans())
    final_blank = draw(st.booleans())
    bom = draw(st.booleans())
    paren = draw(st.sampled_from([("（", "）"), ("(", ")")]))

    lines: list[str] = []
    if agency:
        lines.append(f"{agency}{year}年度施政計畫")
    year_text = (
        str(year).translate(str.maketrans("0123456789", "０１２３４５６７８９"))
        if full_width
        else str(year)
    )
    lines += [
        vision,
        f"　　本機關依據中程施政計畫，編定{year_text}年度施政計畫。",
        blank,
        "壹、年度施政目標及策略",
    ]
    goals = []
    for gi, (title, strategies) in enumerate(goals_raw, start=1):
        lines += [f"{NUMERALS[gi - 1]}、{title[0]}", *title[1:]]
        for si, strategy in enumerate(strategies, start=1):
            lines += [f"{paren[0]}{NUMERALS[si - 1]}{paren[1]}{strategy[0]}", *strategy[1:]]
        goals.append(
            Goal(
                f"G{gi}",
                gi,
                wrapped(title),
                tuple(
                    Strategy(f"G{gi}.S{si}", wrapped(s)) for si, s in enumerate(strategies, start=1)
                ),
            )
        )
    lines += [
        blank,
        "貳、年度重要計畫",
        "\t工作計畫名稱",
        "\t重要計畫項目",
        "\t計畫類別",
        "\t實施內容",
        blank,
    ]
    programs = []
    for name, items in programs_raw:
        plan_items = []
        for ii, (item_name, category, unnumbered, actions_raw, repeat) in enumerate(items):
            if ii == 0 or repeat:
                lines += [f"\t{name[0]}", *name[1:]]
            else:
                lines.append("\t")
            lines += [f"\t{item_name[0]}", *item_name[1:], f"\t{category[0]}", *category[1:]]
            content: list[str] = []
            if unnumbered and actions_raw:
                text, subs = actions_raw[0]
                actions = (Action(1, wrapped(text), tuple(wrapped(s) for s in subs)),)
                content += text
                for si, sub in enumerate(subs, start=1):
                    content += [f"{paren[0]}{NUMERALS[si - 1]}{paren[1]}{sub[0]}", *sub[1:]]
            else:
                actions = tuple(
                    Action(ai, wrapped(text), tuple(wrapped(s) for s in subs))
                    for ai, (text, subs) in enumerate(actions_raw, start=1)
                )
                for ai, (text, subs) in enumerate(actions_raw, start=1):
                    content += [f"{NUMERALS[ai - 1]}、{text[0]}", *text[1:]]
                    for si, sub in enumerate(subs, start=1):
                        content += [f"{paren[0]}{NUMERALS[si - 1]}{paren[1]}{sub[0]}", *sub[1:]]
            lines += [f"\t{content[0]}", *content[1:]] if content else ["\t"]
            lines.append(blank)
            plan_items.append(PlanItem(wrapped(item_name), wrapped(category), actions))
        programs.append(Program(wrapped(name), tuple(plan_items)))
    if not final_blank:
        lines.pop()
    if third_section:
        lines += ["參、其他事項", "本計畫如有未盡事宜，另行補充。"]
    text = ("\ufeff" if bom else "") + eol.join(line + trailing for line in lines)
    return text, Plan(year, agency, vision, tuple(goals), tuple(programs))


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(random_plans())
def test_random_plans_round_trip(case):
    text, expected = case
    assert parse_plan(text) == expected


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(random_plans())
def test_random_plans_survive_json(case):
    text, _ = case
    plan = parse_plan(text)
    assert Plan.from_json(plan.to_json()) == dataclasses.replace(plan, vision="")
