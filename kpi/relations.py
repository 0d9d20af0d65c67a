"""Reference data from data/: countries and their names, diplomatic relations, program aliases.

Whether a visit was with an ally (K1.1) or with a non-allied country (K2.1) depends on
the country's status on the visit's date, not on today's list: relations change
mid-year (索羅門群島 on 2019-09-16, 吉里巴斯 on 2019-09-20), so they are kept with dates.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
import yaml

from kpi.paths import DATA_DIR, read_yaml

COUNTRIES_PATH = DATA_DIR / "countries.yaml"
RELATIONS_PATH = DATA_DIR / "relations.yaml"
PROGRAMS_PATH = DATA_DIR / "programs.yaml"

# Formal names add these to the short name (巴拉圭共和國, 史瓦帝尼王國); 大公國 before 公國.
_ZH_SUFFIXES = ("共和國", "大公國", "王國", "侯國", "公國", "聯邦")
_EN_PREFIXES = (
    "republic of ",
    "kingdom of ",
    "state of ",
    "commonwealth of ",
    "principality of ",
    "grand duchy of ",
    "federal republic of ",
    "islamic republic of ",
)


class ReferenceDataError(ValueError):
    """A reference data file (countries, relations, program aliases) is not valid (zh-TW message)."""


def _key(name: str) -> str:
    """Fold a country name for matching: width, accents, case, dots, 'the', 'St' = 'Saint'."""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = unicodedata.normalize("NFKC", text).casefold().replace("&", " and ")
    text = re.sub(r"[.'’‘`]", "", text)
    text = re.sub(r"[-_,/]", " ", text)
    # Spaces mean nothing next to CJK characters (「聖克里斯多福 及 尼維斯」).
    text = re.sub(r"\s+(?=[^\x00-\x7f])|(?<=[^\x00-\x7f])\s+", "", text)
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"^the ", "", text)
    return re.sub(r"\bst\b", "saint", text)


@dataclass(frozen=True)
class Country:
    """A country or territory: its Taiwanese name (canonical), English name and region."""

    zh: str
    en: str
    region: str
    aliases: tuple[str, ...] = ()
    un_member: bool = True

    def name(self, lang: str = "zh") -> str:
        """The name in the interface language ('zh' or 'en')."""
        return self.en if lang == "en" else self.zh


@dataclass(frozen=True)
class Countries:
    """All countries, with a lookup that accepts any known spelling."""

    countries: tuple[Country, ...]
    # (zh, en) of each region, in the file's order.
    regions: tuple[tuple[str, str], ...]
    index: Mapping[str, Country] = dataclasses.field(repr=False, compare=False)

    def get(self, name: str) -> Country | None:
        """The country a name, alias or formal name refers to, or None."""
        if not isinstance(name, str) or not name.strip():
            return None
        key = _key(name)
        if found := self.index.get(key):
            return found
        folded = unicodedata.normalize("NFKC", name).strip()
        for suffix in _ZH_SUFFIXES:
            if folded.endswith(suffix) and (found := self.index.get(_key(folded[: -len(suffix)]))):
                return found
        for prefix in _EN_PREFIXES:
            if key.startswith(prefix) and (found := self.index.get(_key(key[len(prefix) :]))):
                return found
        return None

    def normalize(self, name: str) -> str:
        """The canonical zh name, or the input trimmed when the name is unknown."""
        found = self.get(name)
        return found.zh if found else name.strip()

    def region_en(self, region: str) -> str:
        """The English name of a region."""
        return dict(self.regions).get(region, region)


def countries_from_dict(data: Any) -> Countries:
    """Build and validate the country list from parsed YAML; raise ReferenceDataError."""
    if not isinstance(data, Mapping) or not isinstance(data.get("regions"), list):
        raise ReferenceDataError("countries.yaml 應有 regions: 一串地區，各列出其國家")
    countries: list[Country] = []
    regions: list[tuple[str, str]] = []
    index: dict[str, Country] = {}
    for region in data["regions"]:
        if not isinstance(region, Mapping) or not region.get("name"):
            raise ReferenceDataError(f"countries.yaml：地區設定不完整：{region}")
        region_zh = str(region["name"])
        regions.append((region_zh, str(region.get("en") or region_zh)))
        for raw in region.get("countries") or []:
            if not isinstance(raw, Mapping) or not raw.get("zh") or not raw.get("en"):
                raise ReferenceDataError(
                    f"countries.yaml：{region_zh} 有一個國家缺少 zh 或 en：{raw}"
                )
            country = Country(
                zh=str(raw["zh"]).strip(),
                en=str(raw["en"]).strip(),
                region=region_zh,
                aliases=tuple(str(a).strip() for a in raw.get("aliases") or ()),
                un_member=bool(raw.get("un", True)),
            )
            for name in (country.zh, country.en, *country.aliases):
                other = index.setdefault(_key(name), country)
                if other.zh != country.zh:
                    raise ReferenceDataError(
                        f"countries.yaml：名稱「{name}」同時指向「{other.zh}」與「{country.zh}」，"
                        "一個別名只能代表一個國家"
                    )
            if any(c.zh == country.zh for c in countries):
                raise ReferenceDataError(f"countries.yaml：國家「{country.zh}」重複列出")
            countries.append(country)
    return Countries(tuple(countries), tuple(regions), index)


def _read_yaml(path: Path) -> Any:
    try:
        return read_yaml(path)
    except yaml.YAMLError as err:
        raise ReferenceDataError(f"{path.name} 不是有效的 YAML：{err}") from err


@lru_cache(maxsize=1)
def _default_countries() -> Countries:
    return countries_from_dict(_read_yaml(COUNTRIES_PATH))


def load_countries(path: Path | str | None = None) -> Countries:
    """Load the country list (default data/countries.yaml, cached); raise ReferenceDataError."""
    return _default_countries() if path is None else countries_from_dict(_read_yaml(Path(path)))


@lru_cache(maxsize=8192)
def normalize_country(name: str) -> str:
    """Canonical zh name of a country ('Eswatini', '史瓦濟蘭' → 史瓦帝尼); unknown names come back trimmed."""
    return _default_countries().normalize(name)


def is_known_country(name: str) -> bool:
    """Whether the name (or alias) is a known country or territory."""
    return _default_countries().get(name) is not None


def region_of(country: str) -> str | None:
    """The Ministry's region (亞太, 亞西, 非洲, 歐洲, 北美, 拉丁美洲及加勒比海) of a country."""
    found = _default_countries().get(country)
    return found.region if found else None


# --- diplomatic relations -------------------------------------------------------------


def _as_date(value: Any) -> dt.date | None:
    """A date from a date, datetime, Timestamp, datetime64 or ISO string; None for blanks."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return pd.Timestamp(value).date()


@dataclass(frozen=True)
class Period:
    """One period of relations: since (inclusive, None = long ago) to until (exclusive, None = ongoing)."""

    country: str
    since: dt.date | None
    until: dt.date | None

    def covers(self, day: dt.date) -> bool:
        """Whether relations held on that day."""
        return (self.since is None or self.since <= day) and (
            self.until is None or day < self.until
        )


@dataclass(frozen=True)
class Relations:
    """Diplomatic relations over time."""

    periods: tuple[Period, ...]
    countries: Countries = dataclasses.field(repr=False, compare=False)

    def is_ally(self, country: str, date: Any) -> bool:
        """Whether the country was an ally on that date."""
        day = _as_date(date)
        if day is None or not isinstance(country, str):
            return False
        name = self.countries.normalize(country)
        return any(p.country == name and p.covers(day) for p in self.periods)

    def allies_on(self, date: Any) -> list[str]:
        """The allies on a date, in the relations file's order."""
        day = _as_date(date)
        if day is None:
            return []
        return list(dict.fromkeys(p.country for p in self.periods if p.covers(day)))

    def ally_mask(self, countries: pd.Series, dates: pd.Series) -> np.ndarray:
        """Row by row, whether the country was an ally on the date (vectorised: one merge)."""
        names = pd.Series(countries).reset_index(drop=True)
        days = pd.to_datetime(pd.Series(dates).reset_index(drop=True), errors="coerce")
        if len(names) != len(days):
            raise ValueError("countries and dates must have the same length")
        if getattr(days.dt, "tz", None) is not None:
            days = days.dt.tz_localize(None)
        # Normalise each distinct name once, not once per row.
        canonical = {
            n: self.countries.normalize(n) for n in names.dropna().unique() if isinstance(n, str)
        }
        # Blank countries become "" (never an ally) so the merge key is text throughout.
        country = names.map(canonical).astype(object).fillna("").astype(str)
        rows = pd.DataFrame({"country": country, "date": days, "row": np.arange(len(names))})
        joined = rows.merge(self._period_frame, on="country", how="inner")
        inside = (
            joined["date"].notna()
            & (joined["since"].isna() | (joined["date"] >= joined["since"]))
            & (joined["until"].isna() | (joined["date"] < joined["until"]))
        )
        mask = np.zeros(len(names), dtype=bool)
        mask[joined.loc[inside, "row"].to_numpy()] = True
        return mask

    @cached_property
    def _period_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "country": [p.country for p in self.periods],
                "since": pd.to_datetime([p.since for p in self.periods]),
                "until": pd.to_datetime([p.until for p in self.periods]),
            }
        )


def _period_date(where: str, key: str, value: Any) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ReferenceDataError(
            f"{where}：{key}「{value}」不是日期（應寫成 2019-09-16）"
        ) from None


def relations_from_dict(data: Any, countries: Countries) -> Relations:
    """Build and validate relations from parsed YAML; raise ReferenceDataError."""
    if not isinstance(data, Mapping) or not isinstance(data.get("relations"), list):
        raise ReferenceDataError("relations.yaml 應有 relations: 一串 {country, since, until}")
    periods: list[Period] = []
    for number, raw in enumerate(data["relations"], start=1):
        where = f"relations.yaml 第 {number} 筆"
        if not isinstance(raw, Mapping) or not raw.get("country"):
            raise ReferenceDataError(f"{where}：缺少 country")
        found = countries.get(str(raw["country"]))
        if found is None:
            raise ReferenceDataError(
                f"{where}：不認得的國家「{raw['country']}」（請用 countries.yaml 中的名稱或別名）"
            )
        period = Period(
            found.zh,
            _period_date(where, "since", raw.get("since")),
            _period_date(where, "until", raw.get("until")),
        )
        if period.since and period.until and period.until <= period.since:
            raise ReferenceDataError(
                f"{where}（{found.zh}）：until {period.until} 不可早於或等於 since {period.since}"
            )
        for other in periods:
            if other.country == period.country and _overlap(other, period):
                raise ReferenceDataError(f"{where}（{found.zh}）：與同一國家的另一段邦交期間重疊")
        periods.append(period)
    return Relations(tuple(periods), countries)


def _overlap(a: Period, b: Period) -> bool:
    lo = dt.date.min
    hi = dt.date.max
    return (a.since or lo) < (b.until or hi) and (b.since or lo) < (a.until or hi)


@lru_cache(maxsize=1)
def _default_relations() -> Relations:
    return relations_from_dict(_read_yaml(RELATIONS_PATH), _default_countries())


def load_relations(path: Path | str | None = None, countries: Countries | None = None) -> Relations:
    """Load diplomatic relations (default data/relations.yaml, cached); raise ReferenceDataError."""
    if path is None and countries is None:
        return _default_relations()
    return relations_from_dict(
        _read_yaml(Path(path) if path else RELATIONS_PATH), countries or _default_countries()
    )


# --- work program aliases -------------------------------------------------------------


def _program_key(name: str) -> str:
    return unicodedata.normalize("NFKC", name).strip()


def program_aliases_from_dict(data: Any) -> dict[str, str]:
    """Build and validate the program alias map from parsed YAML; raise ReferenceDataError."""
    aliases = data.get("aliases") if isinstance(data, Mapping) else None
    if not isinstance(aliases, Mapping):
        raise ReferenceDataError("programs.yaml 應有 aliases: {預算科目名稱: 施政計畫工作計畫名稱}")
    out: dict[str, str] = {}
    for alias, target in aliases.items():
        if not isinstance(alias, str) or not isinstance(target, str) or not target.strip():
            raise ReferenceDataError(f"programs.yaml：別名「{alias}」應對應到一個工作計畫名稱")
        out[_program_key(alias)] = _program_key(target)
    chained = set(out) & set(out.values())
    if chained:
        raise ReferenceDataError(
            f"programs.yaml：「{'、'.join(sorted(chained))}」既是別名又是對應目標，請直接對應到施政計畫的名稱"
        )
    return out


@lru_cache(maxsize=1)
def _default_program_aliases() -> Mapping[str, str]:
    return MappingProxyType(program_aliases_from_dict(_read_yaml(PROGRAMS_PATH)))


def load_program_aliases(path: Path | str | None = None) -> dict[str, str]:
    """Budget report program name → plan work program name (default data/programs.yaml)."""
    if path is None:
        return dict(_default_program_aliases())
    return program_aliases_from_dict(_read_yaml(Path(path)))


def canonical_program(name: str) -> str:
    """The plan's name for a program ('一般建築及設備' → '營建工程'); others come back trimmed."""
    return _default_program_aliases().get(_program_key(name), name.strip())
