"""The indicator catalogue, loaded from data/kpis.yaml and validated on load (SPEC §3).

Indicators are data: each declares its goal, programs, targets and a formula over one
dataset. This module is also the single source of truth for achievement and the lights
(績效燈號), so every page, the CLI and the benchmark colour a figure the same way.
"""

from __future__ import annotations

import dataclasses
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from kpi.ingest.datasets import CHOICE, DATASETS, INT, MONEY, NUMBER, Field
from kpi.paths import DATA_DIR, read_yaml

if TYPE_CHECKING:
    from kpi.plan import Plan

DEFAULT_CATALOG_PATH = DATA_DIR / "kpis.yaml"

LIGHTS = ("green", "yellow", "red", "white")
LIGHT_ZH = {"green": "綠燈", "yellow": "黃燈", "red": "紅燈", "white": "白燈"}
LIGHT_EN = {"green": "Green", "yellow": "Yellow", "red": "Red", "white": "White (no data)"}
# The white light (no data) is drawn light grey: pure white would vanish on a white page.
LIGHT_COLOURS = {"green": "#2e7d32", "yellow": "#f9a825", "red": "#c62828", "white": "#e0e0e0"}
LIGHT_SYMBOLS = {"green": "🟢", "yellow": "🟡", "red": "🔴", "white": "⚪"}

HIGHER, LOWER = "higher", "lower"
DIRECTIONS = (HIGHER, LOWER)
ADDITIVE, RATIO = "additive", "ratio"
KINDS = (ADDITIVE, RATIO)
_KIND_HELP = (
    "逐季累加的件數、金額請寫 kind: additive（預估年底值依進度推估），"
    "比率、平均值請寫 kind: ratio（預估年底值為目前值）"
)
# The dataset of values offices report themselves (指標填報).
REPORTED_DATASET = "kpi_values"
FORMATS = ("count", "percent", "number")
COUNT, SUM, WEIGHTED = "count", "sum", "weighted"
MEASURES = (COUNT, SUM, WEIGHTED)
QUARTER_END = "quarter_end"
ALL_PROGRAMS = "all"
# The special keys of a measure's where.
ALLY, REPORTED = "ally", "reported"
# Only visits carry a country and a date, which is what deciding "ally" needs.
ALLY_DATASETS = ("visits",)
# Fields a formula may use that no upload has: executed = spent + payable (實支數 + 應付未付數).
VIRTUAL_FIELDS: dict[str, dict[str, str]] = {"budget": {"executed": MONEY}}
_NUMERIC = (INT, MONEY, NUMBER)
# Achievement is rounded so that 0.81 ÷ 0.9 reads as exactly 0.9 (yellow), not 0.8999….
_ACHIEVEMENT_DIGITS = 9

_ID = re.compile(r"^[A-Za-z][A-Za-z0-9._-]*$")
_GOAL = re.compile(r"^G\d+$")
_STRATEGY = re.compile(r"^(G\d+)\.S\d+$")
_BRACKETED = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_ROC_OFFSET = 1911

_INDICATOR_KEYS = {
    "id",
    "name",
    "goal",
    "strategy",
    "programs",
    "unit",
    "direction",
    "weight",
    "kind",
    "format",
    "targets",
    "formula",
}
_FORMULA_KEYS = {"dataset", "numerator", "denominator", "at"}
_MEASURE_KEYS = {"measure", "field", "fields", "where"}


class CatalogError(ValueError):
    """The catalogue file is not valid; the message (zh-TW) names the indicator and the problem."""


@dataclass(frozen=True)
class Thresholds:
    """Achievement at or above green is 綠燈, at or above yellow 黃燈, below it 紅燈."""

    green: float = 1.0
    yellow: float = 0.9


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class Measure:
    """One aggregate over a dataset's filtered rows: count, Σ field or Σ (a × b)."""

    measure: str
    field: str | None = None
    fields: tuple[str, ...] = ()
    # As written in the YAML: field → accepted values (a tuple), plus two special keys:
    # "ally": True/False (the row's country is / is not an ally on the row's date) and
    # "reported": a field that must hold a value (blank means "not reported", not zero).
    where: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def filters(self) -> dict[str, tuple[Any, ...]]:
        """The value filters only (field → accepted values)."""
        return {k: v for k, v in self.where.items() if k not in (ALLY, REPORTED)}

    @property
    def ally(self) -> bool | None:
        """True/False to keep only ally / non-ally rows; None for no such filter."""
        return self.where.get(ALLY)

    @property
    def reported(self) -> str | None:
        """The field that must be reported, if any."""
        return self.where.get(REPORTED)


@dataclass(frozen=True)
class Formula:
    """How an indicator's year-to-date value is computed from one dataset."""

    dataset: str
    numerator: Measure
    denominator: Measure | None = None
    # "quarter_end": the dataset is a cumulative report; take the quarter's last month.
    at: str | None = None

    @property
    def is_ratio(self) -> bool:
        """Whether the value is Σ numerator ÷ Σ denominator."""
        return self.denominator is not None


@dataclass(frozen=True)
class Indicator:
    """One indicator (績效指標) of the catalogue."""

    id: str
    name_zh: str
    name_en: str
    goal: str
    strategy: str | None
    programs: tuple[str, ...]
    all_programs: bool
    unit_zh: str
    unit_en: str
    direction: str
    weight: float
    kind: str
    format: str
    # (ROC year, cumulative Q1–Q4 targets), sorted by year.
    targets: tuple[tuple[int, tuple[float, float, float, float]], ...]
    formula: Formula

    @property
    def dataset(self) -> str:
        """The dataset the formula reads."""
        return self.formula.dataset

    def name(self, lang: str = "zh") -> str:
        """The name in the interface language ('zh' or 'en')."""
        return self.name_en if lang == "en" else self.name_zh

    def unit(self, lang: str = "zh") -> str:
        """The unit in the interface language ('zh' or 'en')."""
        return self.unit_en if lang == "en" else self.unit_zh

    def links_program(self, name: str) -> bool:
        """Whether the indicator belongs to this work program."""
        return self.all_programs or name in self.programs

    def targets_for(self, year: int) -> tuple[float, float, float, float] | None:
        """Cumulative Q1–Q4 targets for the year, else the nearest earlier year's, else the earliest."""
        if not self.targets:
            return None
        year = _roc_year(year)
        earlier = [values for y, values in self.targets if y <= year]
        return earlier[-1] if earlier else self.targets[0][1]

    def target(self, year: int, quarter: int) -> float | None:
        """The cumulative target for a quarter (1–4)."""
        values = self.targets_for(year)
        return None if values is None else values[quarter - 1]


@dataclass(frozen=True)
class Catalog:
    """All indicators, with the light thresholds and the roll-up cap."""

    thresholds: Thresholds
    cap: float
    indicators: tuple[Indicator, ...]

    @property
    def ids(self) -> tuple[str, ...]:
        """Indicator ids in catalogue order."""
        return tuple(i.id for i in self.indicators)

    def indicator(self, indicator_id: str) -> Indicator:
        """The indicator with this id."""
        for ind in self.indicators:
            if ind.id == indicator_id:
                return ind
        raise KeyError(f"指標目錄中沒有指標 {indicator_id}")

    def for_programs(self, names: Iterable[str]) -> tuple[Indicator, ...]:
        """Indicators linked to any of the programs; no names means no filter (all of them)."""
        wanted = list(names)
        if not wanted:
            return self.indicators
        return tuple(i for i in self.indicators if any(i.links_program(n) for n in wanted))

    def for_goal(self, goal_id: str) -> tuple[Indicator, ...]:
        """Indicators of one goal."""
        return tuple(i for i in self.indicators if i.goal == goal_id)

    def with_targets(self, indicator_id: str, year: int, targets: Iterable[Any]) -> Catalog:
        """A copy with one indicator's targets for a year set (validated like the file)."""
        ind = self.indicator(indicator_id)
        year = _roc_year(year)
        values = _targets_row(f"指標 {ind.id}", ind.kind, year, list(targets))
        merged = dict(ind.targets) | {year: values}
        new = replace(ind, targets=tuple(sorted(merged.items())))
        return replace(
            self, indicators=tuple(new if i.id == ind.id else i for i in self.indicators)
        )

    def problems_with(self, plan: Plan) -> tuple[str, ...]:
        """Links to goals, strategies or programs that the plan does not have (zh-TW)."""
        goals = {g.id: g for g in plan.goals}
        problems = []
        for ind in self.indicators:
            goal = goals.get(ind.goal)
            if goal is None:
                problems.append(f"指標 {ind.id}：{plan.year}年度施政計畫沒有目標 {ind.goal}")
            elif ind.strategy and ind.strategy not in {s.id for s in goal.strategies}:
                problems.append(f"指標 {ind.id}：目標 {ind.goal} 沒有策略 {ind.strategy}")
            for name in ind.programs:
                if name not in plan.program_names:
                    problems.append(f"指標 {ind.id}：{plan.year}年度施政計畫沒有工作計畫「{name}」")
        return tuple(problems)


def achievement(actual: float | None, target: float | None, direction: str) -> float | None:
    """actual ÷ target (higher is better) or target ÷ actual (lower); None without data or with a zero divisor."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, not {direction!r}")
    if _missing(actual) or _missing(target):
        return None
    num, den = (actual, target) if direction == HIGHER else (target, actual)
    if den == 0:
        return None
    return round(num / den, _ACHIEVEMENT_DIGITS)


def light(achievement: float | None, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> str:
    """The light for an achievement: 'green', 'yellow', 'red', or 'white' when there is none."""
    if _missing(achievement):
        return "white"
    if achievement >= thresholds.green:
        return "green"
    if achievement >= thresholds.yellow:
        return "yellow"
    return "red"


def rollup(achievements: Iterable[tuple[float | None, float]], cap: float) -> float | None:
    """Weighted mean of (achievement, weight) pairs, each capped, over those with data."""
    pairs = [(min(a, cap), w) for a, w in achievements if not _missing(a)]
    total = sum(w for _, w in pairs)
    if not pairs or total == 0:
        return None
    return round(sum(a * w for a, w in pairs) / total, _ACHIEVEMENT_DIGITS)


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _roc_year(year: int) -> int:
    return year - _ROC_OFFSET if year > _ROC_OFFSET else year


def _fold(text: str) -> str:
    """Fold for matching: NFKC (full-width → half-width), case, and no whitespace."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).casefold()


def find_indicator(text: str, catalog: Catalog | None = None) -> str | None:
    """The id of the indicator named by an id ('k4.1', 'Ｋ４．１') or a zh/en name; None if none."""
    catalog = catalog if catalog is not None else load_catalog()
    key = _fold(text)
    if not key:
        return None
    for ind in catalog.indicators:
        if key in (_fold(ind.id), _fold(ind.name_zh), _fold(ind.name_en)):
            return ind.id
    # 「國際傳播觸及人次」 names 「國際傳播觸及人次（萬）」: a bracketed unit is optional.
    bare = _BRACKETED.sub("", key)
    for ind in catalog.indicators:
        if bare and bare in (_BRACKETED.sub("", _fold(n)) for n in (ind.name_zh, ind.name_en)):
            return ind.id
    return None


# --- loading and validation -----------------------------------------------------------


def _fail(where: str, problem: str) -> CatalogError:
    return CatalogError(f"{where}：{problem}")


def _number(value: Any) -> float | None:
    """A YAML number (bool is not one), or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _text(where: str, value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(where, f"缺少{what}（應為文字）")
    return value.strip()


def _bilingual(where: str, value: Any, what: str) -> tuple[str, str]:
    if not isinstance(value, Mapping):
        raise _fail(where, f"{what}應寫成 {{zh: 中文, en: English}}")
    return _text(where, value.get("zh"), f"{what}的中文 zh"), _text(
        where, value.get("en"), f"{what}的英文 en"
    )


def _dataset_fields(dataset: str) -> dict[str, Field | str]:
    fields: dict[str, Field | str] = {f.name: f for f in DATASETS[dataset].stored_fields}
    fields.update(VIRTUAL_FIELDS.get(dataset, {}))
    return fields


def _field_kind(field: Field | str) -> str:
    return field if isinstance(field, str) else field.kind


def _known_field(where: str, dataset: str, name: Any) -> Field | str:
    fields = _dataset_fields(dataset)
    if not isinstance(name, str) or name not in fields:
        raise _fail(where, f"資料集 {dataset} 沒有欄位「{name}」（可用：{'、'.join(fields)}）")
    return fields[name]


def _numeric_field(where: str, dataset: str, name: Any) -> str:
    if _field_kind(_known_field(where, dataset, name)) not in _NUMERIC:
        raise _fail(where, f"欄位「{name}」不是數值，無法加總")
    return name


def _measure(where: str, dataset: str, raw: Any) -> Measure:
    if not isinstance(raw, Mapping):
        raise _fail(where, "應寫成 {measure: count|sum|weighted, …}")
    unknown = set(raw) - _MEASURE_KEYS
    if unknown:
        raise _fail(where, f"不認得的設定「{'、'.join(map(str, unknown))}」")
    kind = raw.get("measure")
    if kind not in MEASURES:
        raise _fail(where, f"measure 應為 {'、'.join(MEASURES)} 之一，不是「{kind}」")
    field: str | None = None
    fields: tuple[str, ...] = ()
    if kind == COUNT:
        if "field" in raw or "fields" in raw:
            raise _fail(where, "count 計算筆數，不需要 field／fields")
    elif kind == SUM:
        if "field" not in raw:
            raise _fail(where, "sum 需要 field（要加總的欄位）")
        field = _numeric_field(where, dataset, raw["field"])
    else:
        names = raw.get("fields")
        if not isinstance(names, list) or len(names) != 2:
            raise _fail(where, "weighted 需要 fields: [欄位A, 欄位B]（計算 Σ A×B）")
        fields = tuple(_numeric_field(where, dataset, n) for n in names)
    where_raw = raw.get("where") or {}
    if not isinstance(where_raw, Mapping):
        raise _fail(where, "where 應寫成 {欄位: [值, …]}")
    where_map: dict[str, Any] = {}
    for key, value in where_raw.items():
        if key == ALLY:
            if dataset not in ALLY_DATASETS:
                raise _fail(where, f"ally 條件只適用於 {'、'.join(ALLY_DATASETS)} 資料集")
            if not isinstance(value, bool):
                raise _fail(where, f"ally 應為 true 或 false，不是「{value}」")
            where_map[key] = value
        elif key == REPORTED:
            _known_field(where, dataset, value)
            where_map[key] = value
        else:
            where_map[key] = _filter_values(where, dataset, key, value)
    return Measure(kind, field, fields, where_map)


def _filter_values(where: str, dataset: str, key: Any, value: Any) -> tuple[Any, ...]:
    field = _known_field(where, dataset, key)
    values = value if isinstance(value, list) else [value]
    if not values or any(isinstance(v, Mapping | list) or v is None for v in values):
        raise _fail(where, f"條件「{key}」應列出一個以上的值")
    # A closed list (visit types, levels, 經資門) is stored canonically: catch typos here.
    if isinstance(field, Field) and field.kind == CHOICE and (field.strict or field.unknown_as):
        for v in values:
            if v not in field.choices:
                raise _fail(
                    where, f"條件「{key}」的值「{v}」不是可用的選項（{'、'.join(field.choices)}）"
                )
    return tuple(values)


def _formula(where: str, kind: str, raw: Any) -> Formula:
    if not isinstance(raw, Mapping):
        raise _fail(where, "缺少 formula（計算方式）")
    unknown = set(raw) - _FORMULA_KEYS
    if unknown:
        raise _fail(where, f"formula 中不認得的設定「{'、'.join(map(str, unknown))}」")
    dataset = raw.get("dataset")
    if dataset not in DATASETS:
        raise _fail(where, f"不認得的資料集「{dataset}」（可用：{'、'.join(DATASETS)}）")
    if "numerator" not in raw:
        raise _fail(where, "formula 缺少 numerator")
    numerator = _measure(f"{where} numerator", dataset, raw["numerator"])
    denominator = None
    if raw.get("denominator") is not None:
        denominator = _measure(f"{where} denominator", dataset, raw["denominator"])
    # A reported value (kpi_values) may itself be a rate: the office computed it.
    if kind == RATIO and denominator is None and dataset != REPORTED_DATASET:
        raise _fail(where, "比率指標（kind: ratio）需要 denominator")
    if kind == ADDITIVE and denominator is not None:
        raise _fail(where, "累加指標（kind: additive）不應有 denominator；比率請用 kind: ratio")
    at = raw.get("at")
    if at is not None:
        if at != QUARTER_END:
            raise _fail(where, f"at 只能是 {QUARTER_END}，不是「{at}」")
        if dataset != "budget":
            raise _fail(where, "at: quarter_end 只適用於累計報表 budget 資料集")
    return Formula(dataset, numerator, denominator, at)


def _targets_row(where: str, kind: str, year: int, raw: Any) -> tuple[float, float, float, float]:
    values = raw if isinstance(raw, list) else None
    if values is None or len(values) != 4:
        raise _fail(where, f"{year}年度的目標值需要 4 個（第1季至第4季的累計目標）")
    numbers = [_number(v) for v in values]
    if any(n is None for n in numbers):
        raise _fail(where, f"{year}年度的目標值必須都是數字：{values}")
    if kind == ADDITIVE and any(b < a for a, b in zip(numbers, numbers[1:], strict=False)):
        raise _fail(where, f"{year}年度的累計目標不可逐季減少：{values}")
    return tuple(numbers)  # type: ignore[return-value]


def _targets(
    where: str, kind: str, raw: Any
) -> tuple[tuple[int, tuple[float, float, float, float]], ...]:
    if not isinstance(raw, Mapping) or not raw:
        raise _fail(where, "缺少 targets（各年度第1季至第4季的累計目標）")
    rows: dict[int, tuple[float, float, float, float]] = {}
    for key, values in raw.items():
        try:
            year = _roc_year(int(key))
        except (TypeError, ValueError):
            raise _fail(where, f"targets 的年度「{key}」不是數字") from None
        rows[year] = _targets_row(where, kind, year, values)
    return tuple(sorted(rows.items()))


def _indicator(raw: Any, index: int) -> Indicator:
    if not isinstance(raw, Mapping):
        raise CatalogError(f"第 {index} 個指標應寫成一組設定（id、name、goal…）")
    ind_id = raw.get("id")
    if not isinstance(ind_id, str) or not _ID.match(ind_id):
        raise CatalogError(f"第 {index} 個指標的 id「{ind_id}」無效（例如 K1.1）")
    where = f"指標 {ind_id}"
    unknown = set(raw) - _INDICATOR_KEYS
    if unknown:
        raise _fail(where, f"不認得的設定「{'、'.join(map(str, unknown))}」")
    name_zh, name_en = _bilingual(where, raw.get("name"), "名稱 name")
    goal = raw.get("goal")
    if not isinstance(goal, str) or not _GOAL.match(goal):
        raise _fail(where, f"goal「{goal}」格式不對，應為 G1、G2…")
    strategy = raw.get("strategy")
    if strategy is not None:
        m = _STRATEGY.match(strategy) if isinstance(strategy, str) else None
        if not m:
            raise _fail(where, f"strategy「{strategy}」格式不對，應為 G1.S1 這類代碼")
        if m[1] != goal:
            raise _fail(where, f"strategy {strategy} 不屬於 goal {goal}")
    programs_raw = raw.get("programs")
    all_programs = programs_raw == ALL_PROGRAMS
    if all_programs:
        programs: tuple[str, ...] = ()
    elif (
        isinstance(programs_raw, list)
        and programs_raw
        and all(isinstance(p, str) and p.strip() for p in programs_raw)
    ):
        programs = tuple(p.strip() for p in programs_raw)
    else:
        raise _fail(where, "programs 應列出工作計畫名稱，或寫 all 表示每一個工作計畫")
    unit_zh, unit_en = _bilingual(where, raw.get("unit"), "單位 unit")
    direction = raw.get("direction")
    if direction not in DIRECTIONS:
        raise _fail(where, f"direction 應為 higher 或 lower，不是「{direction}」")
    weight = _number(raw.get("weight", 1))
    if weight is None or weight <= 0:
        raise _fail(where, f"weight 必須是大於 0 的數字，不是「{raw.get('weight')}」")
    kind = raw.get("kind")
    if kind is None:
        # No default: the kind decides how the year-end projection (預警) is made, and a
        # wrong guess would project a rate as if it added up (or a count as if it did not).
        raise _fail(where, f"缺少 kind：{_KIND_HELP}")
    if kind not in KINDS:
        raise _fail(where, f"kind 應為 additive 或 ratio，不是「{kind}」。{_KIND_HELP}")
    fmt = raw.get("format")
    if fmt not in FORMATS:
        raise _fail(where, f"format 應為 {'、'.join(FORMATS)} 之一，不是「{fmt}」")
    targets = _targets(where, kind, raw.get("targets"))
    formula = _formula(where, kind, raw.get("formula"))
    return Indicator(
        id=ind_id,
        name_zh=name_zh,
        name_en=name_en,
        goal=goal,
        strategy=strategy,
        programs=programs,
        all_programs=all_programs,
        unit_zh=unit_zh,
        unit_en=unit_en,
        direction=direction,
        weight=weight,
        kind=kind,
        format=fmt,
        targets=targets,
        formula=formula,
    )


def catalog_from_dict(data: Any) -> Catalog:
    """Build and validate a catalogue from the parsed YAML; raise CatalogError."""
    if not isinstance(data, Mapping):
        raise CatalogError("指標目錄應為一組設定（thresholds、achievement_cap、indicators）")
    raw_thresholds = data.get("thresholds") or {}
    if not isinstance(raw_thresholds, Mapping):
        raise CatalogError("thresholds 應寫成 {green: 1.0, yellow: 0.9}")
    green = _number(raw_thresholds.get("green", DEFAULT_THRESHOLDS.green))
    yellow = _number(raw_thresholds.get("yellow", DEFAULT_THRESHOLDS.yellow))
    if green is None or yellow is None or not 0 < yellow <= green:
        raise CatalogError(
            f"燈號門檻順序不對：應為 0 < 黃燈 yellow ≤ 綠燈 green，目前 green={raw_thresholds.get('green')}、"
            f"yellow={raw_thresholds.get('yellow')}"
        )
    cap = _number(data.get("achievement_cap", 1.2))
    if cap is None or cap < green:
        raise CatalogError(f"achievement_cap 必須是不小於綠燈門檻 {green} 的數字")
    raw_indicators = data.get("indicators")
    if not isinstance(raw_indicators, list) or not raw_indicators:
        raise CatalogError("指標目錄中沒有任何指標（indicators）")
    indicators = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_indicators, start=1):
        ind = _indicator(raw, index)
        if ind.id in seen:
            raise CatalogError(f"指標 {ind.id}：id 重複，每個指標的 id 必須唯一")
        seen.add(ind.id)
        indicators.append(ind)
    return Catalog(Thresholds(green, yellow), cap, tuple(indicators))


def _read(path: Path) -> Catalog:
    try:
        data = read_yaml(path)
    except yaml.YAMLError as err:
        raise CatalogError(f"{path.name} 不是有效的 YAML：{err}") from err
    try:
        return catalog_from_dict(data)
    except CatalogError as err:
        raise CatalogError(f"{path.name}：{err}") from None


@lru_cache(maxsize=1)
def _default_catalog() -> Catalog:
    return _read(DEFAULT_CATALOG_PATH)


def load_catalog(path: Path | str | None = None) -> Catalog:
    """Load and validate the catalogue (default data/kpis.yaml, cached); raise CatalogError."""
    return _default_catalog() if path is None else _read(Path(path))
