"""A managed catalog loaded through its description: the index mapping comes from the
description (extra fields kept with their types), rows are checked against it (every
problem of every row), and --map converts columns on the way in."""

from __future__ import annotations

import json

import pytest

from ltrr_opensearch.catalog.description import forget
from ltrr_opensearch.cli import main

pytestmark = pytest.mark.integration

DESCRIPTION = """
name = "cinema"
[fields]
id = "id"
type = "entity_type"
title = ["title^3"]
creator = ["director^2"]
text = ["description^0.5"]
popularity = "votes"
date = "release_date"
vector = "embedding"
[facets]
genre = "genres"
[types]
values = ["movie"]
[extra]
rating = "float"
runtime = "integer"
mpaa = "keyword"
"""
CSV = (
    "key,name,made_by,year,score,minutes,cert,genre_list,num_votes\n"
    "m1,Alien,Ridley Scott,1979,8.5,117,R,Horror|Sci-Fi,900\n"
    "m2,Heat,Michael Mann,1995,8.3,170,R,Crime|Drama,600\n"
    "m3,Up,Pete Docter,2009,8.2,96,PG,Animation,700\n"
    "m4,Broken,Nobody,nineteen,great,1.5,,Drama,x\n"
)
MAP = ("id=key,title=name,director=made_by,release_date=year:year_to_date,rating=score:number,"
       "runtime=minutes:integer,mpaa=cert,genres=genre_list:split(|),votes=num_votes:number,"
       "entity_type=const:movie")


@pytest.fixture()
def described(settings, tmp_path, monkeypatch):
    path = tmp_path / "cinema.toml"
    path.write_text(DESCRIPTION, encoding="utf-8")
    config = tmp_path / "ltrr.toml"
    config.write_text(f'[indices]\nprefix = "{settings.index_prefix}"\n'
                      f'[catalog]\ndescription = "{path}"\nembedder = "tfidf"\n',
                      encoding="utf-8")
    monkeypatch.delenv("LTRR_INDEX_PREFIX", raising=False)
    forget()
    (tmp_path / "films.csv").write_text(CSV, encoding="utf-8")
    return config, tmp_path / "films.csv"


def test_a_described_catalog_loads_with_conversions_and_reports_every_problem(
        client, settings, described, capsys):
    config, csv_path = described
    code = main(["catalog", "load", str(csv_path), "--config", str(config), "--map", MAP,
                 "--on-error", "skip", "--quiet"])
    assert code == 0, capsys.readouterr().err
    (index, body), = client.indices.get_mapping(index=settings.catalog_alias).items()
    props = body["mappings"]["properties"]
    assert [props[f]["type"] for f in ("rating", "runtime", "mpaa", "votes_feature")] == [
        "float", "integer", "keyword", "rank_feature"]
    assert "artist" not in props and "director" in props
    docs = {h["_id"]: h["_source"] for h in client.search(
        index=settings.catalog_alias, body={"size": 10})["hits"]["hits"]}
    assert sorted(docs) == ["m1", "m2", "m3"]
    assert docs["m1"]["release_date"] == "1979-01-01" and docs["m1"]["runtime"] == 117
    assert docs["m1"]["genres"] == ["Horror", "Sci-Fi"] and docs["m1"]["rating"] == 8.5
    assert docs["m3"]["entity_type"] == "movie" and docs["m3"]["mpaa"] == "PG"
    rejected = [json.loads(line) for line in
                (csv_path.parent / "films.csv.rejects.jsonl").read_text().splitlines()]
    assert [r["line"] for r in rejected] == [5]
    assert rejected[0]["reason"].split("; ") == [
        "votes: cannot convert num_votes='x' with number: not a number",
        "release_date: cannot convert year='nineteen' with year_to_date: not a 4-digit year",
        "rating: cannot convert score='great' with number: not a number",
        "runtime: cannot convert minutes='1.5' with integer: not a whole number",
    ]


def test_a_bad_map_spec_is_refused_before_anything_is_written(client, settings, described,
                                                              capsys):
    config, csv_path = described
    code = main(["catalog", "load", str(csv_path), "--config", str(config),
                 "--map", "release_date=year:to_date"])
    assert code != 0
    assert "unknown conversion 'to_date'" in capsys.readouterr().err
    assert not client.indices.exists(index=settings.catalog_alias)
