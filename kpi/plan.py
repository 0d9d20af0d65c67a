"""The 施政計畫 (annual administrative plan): domain model and text parser.

Every central agency publishes its plan in one layout (SPEC §2), so this parser reads
that layout, not one file: a preamble naming the year; 「壹、年度施政目標及策略」 with
goals 「一、」 and strategies 「（一）」; 「貳、年度重要計畫」, a four-column table
flattened to text where each cell is a line starting with a TAB, lines without a TAB
continue the cell, and a blank line ends a row.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from kpi.paths import PLANS_DIR

TABLE_COLUMNS = ("工作計畫名稱", "重要計畫項目", "計畫類別", "實施內容")

_NUMERAL = "[一二三四五六七八九十百零]+"
# 「一、…」: a goal in 壹, an action in a 實施內容 cell.
_NUMBERED = re.compile(rf"^({_NUMERAL})、\s*(.*)$")
# 「（一）…」 or 「(一)…」: a strategy in 壹, a sub-item of an action in the table.
_PAREN_NUMBERED = re.compile(rf"^[（(]\s*({_NUMERAL})\s*[）)]\s*(.*)$")
_SECTION = re.compile(r"^([壹貳參肆伍陸柒捌玖拾]+)、\s*(.*)$")
# Years are read after NFKC folding, so full-width digits (１０８) count too.
_YEAR_STATED = re.compile(r"編定\s*(?:中華民國\s*)?(\d{2,4})\s*年度")
_YEAR_ANY = re.compile(r"(\d{2,4})\s*年度")
_TITLE = re.compile(r"^(?P<agency>\S+?)\s*(?:中華民國)?\s*\d{2,4}\s*年度\s*施政計畫$")
_BUNDLED_NAME = re.compile(r"^(\d+)_(.+)\.txt$")
_ROC_OFFSET = 1911

_DIGITS = {"零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_UNITS = {"十": 10, "百": 100}


class PlanError(ValueError):
    """The text does not follow the 施政計畫 layout; the message (zh-TW) says what and where."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message if line is None else f"第 {line} 行：{message}")
        self.line = line


@dataclass(frozen=True)
class Strategy:
    """A strategy (策略) under a goal; id like 'G1.S2'."""

    id: str
    title: str


@dataclass(frozen=True)
class Goal:
    """An annual goal (年度施政目標); id like 'G1'."""

    id: str
    number: int
    title: str
    strategies: tuple[Strategy, ...]


@dataclass(frozen=True)
class Action:
    """A numbered action in 實施內容; sub-items 「（一）…」 belong to it.

    number is the action's own numeral; a cell without numbering is one action numbered 1,
    and unnumbered lead-in text before numbered actions is kept as an action numbered 0.
    """

    number: int
    text: str
    sub_items: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlanItem:
    """A key plan item (重要計畫項目) of a work program."""

    name: str
    category: str
    actions: tuple[Action, ...]


@dataclass(frozen=True)
class Program:
    """A work program (工作計畫), identified by its name."""

    name: str
    items: tuple[PlanItem, ...]

    def item(self, name: str) -> PlanItem:
        """The item with this name."""
        for item in self.items:
            if item.name == name:
                return item
        raise KeyError(f"工作計畫「{self.name}」沒有重要計畫項目「{name}」")


@dataclass(frozen=True)
class Plan:
    """One agency's plan for one (ROC) year."""

    year: int
    agency: str
    vision: str
    goals: tuple[Goal, ...]
    programs: tuple[Program, ...]

    @property
    def program_names(self) -> tuple[str, ...]:
        """Work program names in plan order."""
        return tuple(p.name for p in self.programs)

    def goal(self, goal_id: str) -> Goal:
        """The goal with this id ('G1'; case-insensitive)."""
        wanted = goal_id.strip().upper()
        for goal in self.goals:
            if goal.id == wanted:
                return goal
        raise KeyError(f"{self.year}年度施政計畫沒有目標 {goal_id}")

    def program(self, name: str) -> Program:
        """The work program with this name."""
        wanted = name.strip()
        for program in self.programs:
            if program.name == wanted:
                return program
        raise KeyError(f"{self.year}年度施政計畫沒有工作計畫「{name}」")

    def counts(self) -> dict[str, int]:
        """How many goals, strategies, programs, items and actions the plan holds."""
        items = [item for p in self.programs for item in p.items]
        return {
            "goals": len(self.goals),
            "strategies": sum(len(g.strategies) for g in self.goals),
            "programs": len(self.programs),
            "items": len(items),
            "actions": sum(len(item.actions) for item in items),
        }

    def to_json(self) -> dict[str, Any]:
        """The plan as the CLI's plan JSON (SPEC §6), plus agency and counts."""
        return {
            "year": self.year,
            "agency": self.agency,
            "goals": [
                {
                    "id": g.id,
                    "title": g.title,
                    "strategies": [{"id": s.id, "title": s.title} for s in g.strategies],
                }
                for g in self.goals
            ],
            "programs": [
                {
                    "name": p.name,
                    "items": [
                        {
                            "name": item.name,
                            "category": item.category,
                            "actions": [
                                {"number": a.number, "text": a.text, "sub_items": list(a.sub_items)}
                                for a in item.actions
                            ],
                        }
                        for item in p.items
                    ],
                }
                for p in self.programs
            ],
            "counts": self.counts(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Plan:
        """The plan back from to_json's shape (vision is not part of it, so it comes back empty)."""
        goals = tuple(
            Goal(
                id=g.get("id") or f"G{gi}",
                number=gi,
                title=g["title"],
                strategies=tuple(
                    Strategy(id=s.get("id") or f"G{gi}.S{si}", title=s["title"])
                    for si, s in enumerate(g.get("strategies", []), start=1)
                ),
            )
            for gi, g in enumerate(data["goals"], start=1)
        )
        programs = tuple(
            Program(
                name=p["name"],
                items=tuple(
                    PlanItem(
                        name=item["name"],
                        category=item.get("category", ""),
                        actions=tuple(
                            Action(
                                number=int(a["number"]),
                                text=a["text"],
                                sub_items=tuple(a.get("sub_items", [])),
                            )
                            for a in item.get("actions", [])
                        ),
                    )
                    for item in p.get("items", [])
                ),
            )
            for p in data["programs"]
        )
        return cls(
            year=int(data["year"]),
            agency=data.get("agency", ""),
            vision=data.get("vision", ""),
            goals=goals,
            programs=programs,
        )


def chinese_number(text: str) -> int:
    """Read a Chinese numeral used for numbering: 一 → 1, 十一 → 11, 二十一 → 21, 一百零八 → 108."""
    total = 0
    digit: int | None = None
    last_unit = 1000
    for ch in text:
        if ch in _DIGITS:
            if digit not in (None, 0):
                raise ValueError(f"不是中文數字：{text}")
            digit = _DIGITS[ch]
        elif ch in _UNITS:
            unit = _UNITS[ch]
            if unit >= last_unit or digit == 0:
                raise ValueError(f"不是中文數字：{text}")
            # 「十一」: a leading 十 means one ten.
            total += (1 if digit is None else digit) * unit
            digit, last_unit = None, unit
        else:
            raise ValueError(f"不是中文數字：{text}")
    total += digit or 0
    if total <= 0:
        raise ValueError(f"不是中文數字：{text}")
    return total


def _join(lines: list[str]) -> str:
    """Join a cell's wrapped lines: no space between CJK text, one between ASCII words."""
    out = ""
    for line in lines:
        if out and out[-1].isascii() and line[0].isascii():
            out += " "
        out += line
    return out


@dataclass(frozen=True)
class _Line:
    no: int  # 1-based, as an editor numbers it
    cell: bool  # starts with a TAB: a table cell
    text: str  # stripped content


def _lines(text: str) -> list[_Line]:
    if text.startswith("\ufeff"):
        text = text[1:]
    # Only CR/LF end lines: str.splitlines would also split on form feeds and U+2028.
    raw_lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out = []
    for no, raw in enumerate(raw_lines, start=1):
        cell = raw.startswith("\t")
        out.append(_Line(no, cell, (raw[1:] if cell else raw).strip()))
    return out


def _number(numeral: str, line: _Line) -> int:
    try:
        return chinese_number(numeral)
    except ValueError as err:
        raise PlanError(f"編號「{numeral}」不是可讀的中文數字", line.no) from err


@dataclass
class _GoalDraft:
    line: _Line
    title: list[str]
    strategies: list[list[str]]


def _parse_goals(header: _Line, lines: list[_Line]) -> tuple[Goal, ...]:
    drafts: list[_GoalDraft] = []
    for line in lines:
        if not line.text:
            continue
        if m := _NUMBERED.match(line.text):
            number = _number(m[1], line)
            if number != len(drafts) + 1:
                raise PlanError(
                    f"目標編號應為第 {len(drafts) + 1} 個，這一行卻是「{m[1]}、」", line.no
                )
            drafts.append(_GoalDraft(line, [m[2]] if m[2] else [], []))
        elif m := _PAREN_NUMBERED.match(line.text):
            if not drafts:
                raise PlanError(f"策略「{line.text[:20]}」出現在任何目標「一、…」之前", line.no)
            goal = drafts[-1]
            number = _number(m[1], line)
            if number != len(goal.strategies) + 1:
                raise PlanError(
                    f"目標「{_join(goal.title)}」的策略編號應為第 {len(goal.strategies) + 1} 個，"
                    f"這一行卻是「（{m[1]}）」",
                    line.no,
                )
            goal.strategies.append([m[2]] if m[2] else [])
        elif drafts:
            # A wrapped title: the line continues the goal or strategy above it.
            goal = drafts[-1]
            (goal.strategies[-1] if goal.strategies else goal.title).append(line.text)
        # Text before the first goal is an introduction, not a goal.
    if not drafts:
        raise PlanError(f"「{header.text}」段落中找不到任何目標（目標應以「一、」開頭）", header.no)
    goals = []
    for gi, draft in enumerate(drafts, start=1):
        if not draft.title:
            raise PlanError("目標沒有標題", draft.line.no)
        strategies = tuple(
            Strategy(f"G{gi}.S{si}", _join(s)) for si, s in enumerate(draft.strategies, start=1)
        )
        goals.append(Goal(f"G{gi}", gi, _join(draft.title), strategies))
    return tuple(goals)


def _parse_actions(lines: list[str]) -> tuple[Action, ...]:
    # Each entry: [number, text lines, sub-items (each a list of lines)].
    lead: tuple[list[str], list[list[str]]] = ([], [])
    numbered: list[tuple[int, list[str], list[list[str]]]] = []
    for text in lines:
        if (m := _NUMBERED.match(text)) and (number := _try_number(m[1])) is not None:
            numbered.append((number, [m[2]] if m[2] else [], []))
            continue
        _, body, subs = numbered[-1] if numbered else (0, *lead)
        if (m := _PAREN_NUMBERED.match(text)) and _try_number(m[1]) is not None:
            subs.append([m[2]] if m[2] else [])
        else:
            (subs[-1] if subs else body).append(text)
    actions = [Action(n, _join(body), tuple(_join(s) for s in subs)) for n, body, subs in numbered]
    body, subs = lead
    if body or subs:
        # Content with no numbering is one action; text before numbered actions is a lead-in.
        lead_action = Action(0 if numbered else 1, _join(body), tuple(_join(s) for s in subs))
        actions.insert(0, lead_action)
    return tuple(actions)


def _try_number(numeral: str) -> int | None:
    try:
        return chinese_number(numeral)
    except ValueError:
        return None


@dataclass
class _Row:
    line: _Line
    cells: list[list[str]]


def _table_rows(header: _Line, lines: list[_Line]) -> list[_Row]:
    rows: list[_Row] = []
    row: _Row | None = None
    for line in lines:
        if line.cell:
            if row is None:
                row = _Row(line, [])
            row.cells.append([line.text] if line.text else [])
        elif not line.text:
            if row is not None:
                rows.append(row)
                row = None
        elif row is not None:
            row.cells[-1].append(line.text)
        elif rows:
            raise PlanError(
                "這一行不以 TAB 開頭，卻夾在表格的兩列之間（儲存格的續行應緊接在儲存格之後，"
                "列與列之間只能有空白行）",
                line.no,
            )
        # Text between the section heading and the table (a unit note, say) is not a row.
    if row is not None:
        rows.append(row)
    rows = [r for r in rows if any(r.cells)]
    if not rows:
        raise PlanError(
            f"「{header.text}」段落中找不到表格（每個儲存格應為以 TAB 開頭的一行，列與列之間空一行）",
            header.no,
        )
    return rows


def _is_header_row(row: _Row) -> bool:
    cells = [_join(c) for c in row.cells]
    return len(cells) == len(TABLE_COLUMNS) and "工作計畫" in cells[0] and "內容" in cells[-1]


def _parse_table(header: _Line, lines: list[_Line]) -> tuple[Program, ...]:
    rows = _table_rows(header, lines)
    if _is_header_row(rows[0]):
        rows = rows[1:]
    # Program name → item name → (category, actions); dicts keep first-seen order.
    programs: dict[str, dict[str, tuple[str, list[Action]]]] = {}
    current: str | None = None
    for row in rows:
        if len(row.cells) != len(TABLE_COLUMNS):
            raise PlanError(
                f"表格的這一列有 {len(row.cells)} 個儲存格，應為 {len(TABLE_COLUMNS)} 個"
                f"（{'、'.join(TABLE_COLUMNS)}，各以 TAB 開頭）",
                row.line.no,
            )
        name_cell, item_cell, category_cell, content_cell = row.cells
        if name_cell:
            current = _join(name_cell)
        elif current is None:
            raise PlanError("表格第一列的工作計畫名稱是空白的，無從接續前一個工作計畫", row.line.no)
        if not item_cell:
            raise PlanError(f"工作計畫「{current}」有一列的重要計畫項目是空白的", row.line.no)
        items = programs.setdefault(current, {})
        item_name = _join(item_cell)
        category = _join(category_cell) if category_cell else ""
        # A repeated item (a row split over two pages, say) adds its actions to the first.
        _, actions = items.setdefault(item_name, (category, []))
        actions.extend(_parse_actions(content_cell))
    return tuple(
        Program(name, tuple(PlanItem(n, c, tuple(a)) for n, (c, a) in items.items()))
        for name, items in programs.items()
    )


def _preamble_facts(lines: list[_Line]) -> tuple[int | None, str, str]:
    """(year, agency, vision) from the text before 壹."""
    texts = [line.text for line in lines if line.text]
    folded = [unicodedata.normalize("NFKC", t) for t in texts]
    year_at: int | None = None
    year: int | None = None
    for pattern in (_YEAR_STATED, _YEAR_ANY):
        for i, t in enumerate(folded):
            if m := pattern.search(t):
                year_at, year = i, int(m[1])
                break
        if year is not None:
            break
    if year is not None and year > _ROC_OFFSET:
        year -= _ROC_OFFSET
    agency = ""
    title_at: int | None = None
    for i, t in enumerate(folded):
        if m := _TITLE.match(t):
            agency, title_at = m["agency"], i
            break
    vision = "\n".join(t for i, t in enumerate(texts) if i not in (year_at, title_at))
    return year, agency, vision


def parse_plan(text: str, agency: str = "", default_year: int | None = None) -> Plan:
    """Parse a 施政計畫 text; raise PlanError (zh-TW, with the line) if it is not in the layout.

    agency, when given, wins over the one found in a title line; default_year is used only
    when the preamble names no year.
    """
    lines = _lines(text)
    sections = [
        (i, m[2])
        for i, line in enumerate(lines)
        if not line.cell and (m := _SECTION.match(line.text))
    ]
    goals_at = next((k for k, (_, title) in enumerate(sections) if "目標" in title), None)
    if goals_at is None:
        raise PlanError("找不到「壹、年度施政目標及策略」段落")
    table_at = next(
        (k for k, (_, title) in enumerate(sections) if k > goals_at and "重要計畫" in title),
        goals_at + 1 if goals_at + 1 < len(sections) else None,
    )
    if table_at is None:
        raise PlanError("找不到「貳、年度重要計畫」段落")

    def body(k: int) -> list[_Line]:
        end = sections[k + 1][0] if k + 1 < len(sections) else len(lines)
        return lines[sections[k][0] + 1 : end]

    found_year, found_agency, vision = _preamble_facts(lines[: sections[goals_at][0]])
    year = found_year if found_year is not None else default_year
    if year is None:
        raise PlanError("前言中找不到年度（例如「編定108年度施政計畫」）；請指定年度")
    goals = _parse_goals(lines[sections[goals_at][0]], body(goals_at))
    programs = _parse_table(lines[sections[table_at][0]], body(table_at))
    return Plan(year, agency or found_agency, vision, goals, programs)


def read_plan_file(path: Path, agency: str = "") -> Plan:
    """Parse a plan file (UTF-8 with or without BOM, or Big5/CP950 as older exports are).

    A file named like 108_外交部.txt gives the year and agency the text does not.
    """
    data = Path(path).read_bytes()
    for encoding in ("utf-8-sig", "cp950"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise PlanError(f"{Path(path).name} 不是 UTF-8 或 Big5 編碼的文字檔")
    m = _BUNDLED_NAME.match(Path(path).name)
    plan = parse_plan(text, agency=agency, default_year=int(m[1]) if m else None)
    if not plan.agency and m:
        plan = dataclasses.replace(plan, agency=m[2])
    return plan


@lru_cache(maxsize=1)
def load_bundled_plan() -> Plan:
    """The newest plan shipped in data/plans/ (files named like 108_外交部.txt)."""
    found = [(int(m[1]), p) for p in PLANS_DIR.glob("*.txt") if (m := _BUNDLED_NAME.match(p.name))]
    if not found:
        raise PlanError(f"{PLANS_DIR} 中沒有施政計畫檔（檔名如 108_外交部.txt）")
    return read_plan_file(max(found)[1])
