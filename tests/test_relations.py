"""Countries, diplomatic relations with dates, and program aliases."""

from __future__ import annotations

import datetime as dt
import time

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kpi.relations import (
    ReferenceDataError,
    canonical_program,
    countries_from_dict,
    is_known_country,
    load_countries,
    load_program_aliases,
    load_relations,
    normalize_country,
    program_aliases_from_dict,
    region_of,
    relations_from_dict,
)

ALLIES_2019 = {
    "巴拉圭", "瓜地馬拉", "史瓦帝尼", "海地", "貝里斯", "聖克里斯多福及尼維斯", "聖文森及格瑞那丁",
    "聖露西亞", "尼加拉瓜", "宏都拉斯", "馬紹爾群島", "帛琉", "吐瓦魯", "諾魯", "索羅門群島",
    "吉里巴斯", "教廷",
}  # fmt: skip
REGIONS = ("亞太", "亞西", "非洲", "歐洲", "北美", "拉丁美洲及加勒比海")


def test_seventeen_allies_at_the_start_of_2019():
    allies = load_relations().allies_on(dt.date(2019, 1, 1))
    assert len(allies) == 17
    assert set(allies) == ALLIES_2019


def test_fifteen_allies_after_solomon_islands_and_kiribati():
    assert set(load_relations().allies_on("2019-09-20")) == ALLIES_2019 - {"索羅門群島", "吉里巴斯"}
    assert len(load_relations().allies_on("2019-09-19")) == 16


@pytest.mark.parametrize(
    ("country", "date", "ally"),
    [
        ("索羅門群島", "2019-09-15", True),
        ("索羅門群島", "2019-09-16", False),
        ("Solomon Islands", dt.date(2019, 9, 15), True),
        ("所羅門群島", dt.datetime(2019, 9, 16, 10, 30), False),
        ("吉里巴斯", "2019-09-19", True),
        ("Kiribati", "2019-09-20", False),
        ("薩爾瓦多", "2018-08-20", True),
        ("El Salvador", "2018-08-21", False),
        ("諾魯", "2003-01-01", False),  # relations broken 2002–2005
        ("Nauru", "2019-06-01", True),
        ("諾魯", "2024-01-15", False),
        ("尼加拉瓜", "2021-12-09", True),
        ("尼加拉瓜", "2021-12-10", False),
        ("宏都拉斯", "2023-03-26", False),
        ("教廷", "1990-01-01", True),
        ("Vatican", pd.Timestamp("2019-05-01"), True),
        ("日本", "2019-05-01", False),
        ("Narnia", "2019-05-01", False),
        ("巴拉圭", None, False),
    ],
)
def test_is_ally_on_a_date(country, date, ally):
    assert load_relations().is_ally(country, date) is ally


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("Eswatini", "史瓦帝尼"),
        ("Swaziland", "史瓦帝尼"),
        ("史瓦濟蘭", "史瓦帝尼"),
        ("斯威士蘭", "史瓦帝尼"),
        ("史瓦帝尼王國", "史瓦帝尼"),
        ("危地馬拉", "瓜地馬拉"),
        ("危地马拉", "瓜地馬拉"),
        ("所羅門群島", "索羅門群島"),
        ("圖瓦盧", "吐瓦魯"),
        ("基里巴斯", "吉里巴斯"),
        ("伯利茲", "貝里斯"),
        ("洪都拉斯", "宏都拉斯"),
        ("尼加拉瓜", "尼加拉瓜"),
        ("Holy See", "教廷"),
        ("Vatican", "教廷"),
        ("梵蒂岡", "教廷"),
        ("St Kitts and Nevis", "聖克里斯多福及尼維斯"),
        ("St. Kitts & Nevis", "聖克里斯多福及尼維斯"),
        ("Saint Vincent and the Grenadines", "聖文森及格瑞那丁"),
        ("St Lucia", "聖露西亞"),
        ("Marshall Islands", "馬紹爾群島"),
        ("Republic of the Marshall Islands", "馬紹爾群島"),
        ("USA", "美國"),
        ("United States", "美國"),
        ("U.S.", "美國"),
        ("UK", "英國"),
        ("ｕｓａ", "美國"),
        ("  美國 ", "美國"),
        ("Ｈｏｌｙ　Ｓｅｅ", "教廷"),
        ("巴拉圭共和國", "巴拉圭"),
        ("Republic of Paraguay", "巴拉圭"),
        ("中非共和國", "中非共和國"),
        ("Cote d'Ivoire", "象牙海岸"),
        ("The Gambia", "甘比亞"),
        ("紐西蘭", "紐西蘭"),
        ("New Zealand", "紐西蘭"),
        ("沙特阿拉伯", "沙烏地阿拉伯"),
        ("Kosovo", "科索沃"),
        ("Palestine", "巴勒斯坦"),
        ("Somaliland", "索馬利蘭"),
        ("Republic of China", "臺灣"),
    ],
)
def test_country_names_resolve(name, canonical):
    assert normalize_country(name) == canonical
    assert is_known_country(name)


def test_unknown_country_comes_back_trimmed():
    assert normalize_country("  Narnia ") == "Narnia"
    assert not is_known_country("Narnia")
    assert not is_known_country("")


def test_regions():
    assert region_of("帛琉") == "亞太"
    assert region_of("Saudi Arabia") == "亞西"
    assert region_of("史瓦濟蘭") == "非洲"
    assert region_of("教廷") == "歐洲"
    assert region_of("USA") == "北美"
    assert region_of("危地馬拉") == "拉丁美洲及加勒比海"
    assert region_of("Narnia") is None
    countries = load_countries()
    assert tuple(zh for zh, _ in countries.regions) == REGIONS
    assert countries.region_en("亞西") == "West Asia"


def test_country_list_is_complete():
    countries = load_countries().countries
    assert sum(c.un_member for c in countries) == 193
    assert {c.region for c in countries} == set(REGIONS)
    assert len({c.zh for c in countries}) == len(countries)
    assert all(is_known_country(a) for a in ALLIES_2019)


def test_every_ally_in_the_relations_file_is_a_known_country():
    relations = load_relations()
    assert all(is_known_country(p.country) for p in relations.periods)


# --- the vectorised ally mask -----------------------------------------------------------

_NAMES = sorted(ALLIES_2019) + [
    "薩爾瓦多", "巴拿馬", "多明尼加", "布吉納法索", "聖多美普林西比", "日本", "美國",
    "Solomon Islands", "Kiribati", "所羅門群島", "Nauru", "Vatican", "Narnia", "",
]  # fmt: skip
_DATES = st.one_of(st.dates(dt.date(1995, 1, 1), dt.date(2026, 12, 31)), st.none())


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.one_of(st.sampled_from(_NAMES), st.none()), _DATES), max_size=60),
    st.booleans(),
)
def test_ally_mask_matches_is_ally(rows, as_datetime64):
    relations = load_relations()
    countries = pd.Series([c for c, _ in rows], dtype=object, index=np.arange(len(rows)) * 7 + 3)
    dates = pd.Series([d for _, d in rows], dtype=object, index=np.arange(len(rows))[::-1])
    if as_datetime64:
        dates = pd.to_datetime(dates)
    mask = relations.ally_mask(countries, dates)
    assert mask.dtype == bool and mask.shape == (len(rows),)
    assert mask.tolist() == [relations.is_ally(c, d) for c, d in rows]


def test_ally_mask_is_fast_on_fifty_thousand_rows():
    relations = load_relations()
    rng = np.random.default_rng(7)
    names = np.array([c.zh for c in load_countries().countries])
    countries = pd.Series(rng.choice(names, 50_000))
    dates = pd.Series(
        pd.Timestamp("2015-01-01") + pd.to_timedelta(rng.integers(0, 4000, 50_000), unit="D")
    )
    start = time.perf_counter()
    mask = relations.ally_mask(countries, dates)
    assert time.perf_counter() - start < 2.0
    sample = rng.integers(0, 50_000, 300)
    assert [mask[i] for i in sample] == [relations.is_ally(countries[i], dates[i]) for i in sample]


def test_ally_mask_rejects_different_lengths():
    with pytest.raises(ValueError):
        load_relations().ally_mask(pd.Series(["帛琉"]), pd.Series([], dtype="datetime64[ns]"))


# --- validation of the data files -------------------------------------------------------

_TWO = {
    "regions": [
        {
            "name": "亞太",
            "en": "Asia-Pacific",
            "countries": [{"zh": "帛琉", "en": "Palau", "aliases": ["帕勞"]}],
        },
        {
            "name": "歐洲",
            "en": "Europe",
            "countries": [{"zh": "教廷", "en": "Holy See", "aliases": []}],
        },
    ]
}


def test_alias_naming_two_countries_is_refused():
    data = {
        "regions": [
            {"name": "亞太", "countries": [{"zh": "帛琉", "en": "Palau", "aliases": ["P"]}]},
            {"name": "歐洲", "countries": [{"zh": "教廷", "en": "Holy See", "aliases": ["p"]}]},
        ]
    }
    with pytest.raises(ReferenceDataError, match="「p」同時指向「帛琉」與「教廷」"):
        countries_from_dict(data)


def test_country_without_english_name_is_refused():
    with pytest.raises(ReferenceDataError, match="缺少 zh 或 en"):
        countries_from_dict({"regions": [{"name": "亞太", "countries": [{"zh": "帛琉"}]}]})


@pytest.mark.parametrize(
    ("relations", "message"),
    [
        (
            [{"country": "帛琉", "since": dt.date(2019, 1, 1), "until": dt.date(2018, 1, 1)}],
            "until 2018-01-01 不可早於或等於 since",
        ),
        (
            [{"country": "帛琉", "since": dt.date(2019, 1, 1), "until": dt.date(2019, 1, 1)}],
            "不可早於或等於",
        ),
        ([{"country": "Narnia", "since": None, "until": None}], "不認得的國家「Narnia」"),
        ([{"country": "帛琉", "since": "someday", "until": None}], "since「someday」不是日期"),
        (
            [
                {"country": "帛琉", "since": None, "until": dt.date(2020, 1, 1)},
                {"country": "帕勞", "since": dt.date(2019, 1, 1), "until": None},
            ],
            "重疊",
        ),
        ([{"since": None}], "缺少 country"),
    ],
)
def test_bad_relations_are_refused(relations, message):
    with pytest.raises(ReferenceDataError, match=message):
        relations_from_dict({"relations": relations}, countries_from_dict(_TWO))


def test_relations_resolve_aliases_and_iso_strings():
    relations = relations_from_dict(
        {"relations": [{"country": "帕勞", "since": "1999-12-29", "until": None}]},
        countries_from_dict(_TWO),
    )
    assert relations.periods[0].country == "帛琉"
    assert relations.is_ally("Palau", "2000-01-01") and not relations.is_ally("Palau", "1999-12-28")


def test_program_aliases():
    assert load_program_aliases() == {"一般建築及設備": "營建工程"}
    assert canonical_program("一般建築及設備") == "營建工程"
    assert canonical_program(" 一般建築及設備 ") == "營建工程"
    assert canonical_program("一般行政") == "一般行政"
    assert canonical_program("營建工程") == "營建工程"


def test_program_alias_chains_are_refused():
    with pytest.raises(ReferenceDataError, match="既是別名又是對應目標"):
        program_aliases_from_dict({"aliases": {"甲": "乙", "乙": "丙"}})
    with pytest.raises(ReferenceDataError, match="aliases"):
        program_aliases_from_dict({"alias": {}})


def test_load_from_files(tmp_path):
    path = tmp_path / "relations.yaml"
    path.write_text(
        "relations:\n  - {country: 帛琉, since: 1999-12-29, until: null}\n", encoding="utf-8"
    )
    relations = load_relations(path)
    assert relations.allies_on("2019-01-01") == ["帛琉"]
    broken = tmp_path / "countries.yaml"
    broken.write_text("regions: [", encoding="utf-8")
    with pytest.raises(ReferenceDataError, match="countries.yaml 不是有效的 YAML"):
        load_countries(broken)
