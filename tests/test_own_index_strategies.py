"""An index created outside ltrr, with its own field names, searched through a description
file alone; a description that does not fit it is refused by `ltrr templates validate` and
`ltrr doctor`, one line per problem with its fix."""

from __future__ import annotations

import json

import pytest

from ltrr_opensearch.cli import main
from ltrr_opensearch.config import Settings
from ltrr_opensearch.pipeline import Pipeline

pytestmark = pytest.mark.integration

MAPPING = {"properties": {
    "sku": {"type": "keyword"},
    "name": {"type": "text", "fields": {"raw": {"type": "keyword"}}},
    "blurb": {"type": "text"},
    "author": {"type": "text", "fields": {"raw": {"type": "keyword"}}},
    "category": {"type": "keyword"},
    "sold": {"type": "long"},
    "published": {"type": "date"},
}}
BOOKS = [
    dict(sku="b1", name="Dune", author="Frank Herbert", category="scifi", sold=900,
         published="1965-08-01", blurb="a novel of a desert planet"),
    dict(sku="b2", name="Neuromancer", author="William Gibson", category="scifi", sold=400,
         published="1984-07-01", blurb="a novel of cyberspace"),
    dict(sku="b3", name="Anathem", author="Neal Stephenson", category="scifi", sold=50,
         published="2008-09-09", blurb="a novel of a monastery"),
    dict(sku="b4", name="Emma", author="Jane Austen", category="classic", sold=700,
         published="1815-12-23", blurb="a novel of matchmaking"),
    dict(sku="b5", name="Hyperion", author="Dan Simmons", category="scifi", sold=650,
         published="1989-05-26", blurb="a novel of pilgrims"),
]


def description(index: str, **fields) -> str:
    roles = {"id": '"sku"', "title": '["name^2"]', "creator": '["author"]',
             "text": '["blurb"]', "popularity": '"sold"', "date": '"published"', **fields}
    lines = [f'{k} = {v}' for k, v in roles.items()]
    return (f'name = "books"\nindex = "{index}"\n[fields]\n' + "\n".join(lines)
            + '\n[facets]\ngenre = "category"\n[memory]\nstore = "outside"\n')


@pytest.fixture()
def books(client, settings, tmp_path, monkeypatch):
    index = f"{settings.index_prefix}-shop-books"
    client.indices.create(index=index, body={"mappings": MAPPING})
    lines: list[dict] = []
    for book in BOOKS:
        lines += [{"index": {"_index": index, "_id": book["sku"]}}, book]
    assert not client.bulk(body=lines, refresh=True)["errors"]
    monkeypatch.setenv("LTRR_INDEX_PREFIX", settings.index_prefix)
    monkeypatch.setenv("LTRR_OPENSEARCH_URL", settings.urls[0])

    def configure(text: str) -> Settings:
        path = tmp_path / "books.toml"
        path.write_text(text)
        config = tmp_path / "ltrr.toml"
        config.write_text(f'[catalog]\ndescription = "{path}"\n')
        monkeypatch.setenv("LTRR_CONFIG", str(config))
        return Settings.load(config_file=config).with_overrides(
            index_prefix=settings.index_prefix)
    configure.index = index
    return configure


def test_a_genre_search_on_the_users_index_comes_back_most_popular_first(client, books):
    settings = books(description(books.index))
    pipeline = Pipeline.from_cluster(client, settings)
    response = pipeline.search("scifi", k=5, strategies=[("structured_qu", 10)], log=False)
    assert [r.error for r in response.results] == [None]
    assert [c.id for c in response.shown] == ["b1", "b5", "b2", "b3"]
    first = response.to_dict()["results"][0]
    assert (first["title"], first["creator"]) == ("Dune", "Frank Herbert")


def test_bm25_finds_a_typo_and_a_prefix_on_the_users_fields(client, books):
    settings = books(description(books.index))
    pipeline = Pipeline.from_cluster(client, settings)
    for query in ("neuromancr", "hyperi"):
        response = pipeline.search(query, k=3, strategies=[("bm25_popularity", 10)], log=False)
        assert response.results[0].error is None, query
        assert response.shown[0].id == ("b2" if query == "neuromancr" else "b5"), query


def test_fresh_releases_ranks_by_the_catalogs_own_dates(client, books):
    settings = books(description(books.index))
    pipeline = Pipeline.from_cluster(client, settings)
    # median 1984-07-01 to latest 2008-09-09: 8836 days
    assert pipeline.catalog["dates"] == {"latest": "2008-09-09", "median": "1984-07-01",
                                         "pivot": "8836d"}
    response = pipeline.search("novel", k=5, strategies=[("fresh_releases", 10)], log=False)
    assert [c.id for c in response.shown] == ["b3", "b5", "b2", "b1", "b4"]


def test_validate_names_every_problem_of_a_bad_description_with_its_fix(books, capsys):
    books(description(books.index, title='["nmae"]', popularity='"blurb"'))
    assert main(["templates", "validate"]) == 1
    out = capsys.readouterr().out.splitlines()
    errors = [line for line in out if line.startswith("catalog ") and "ERROR" in line]
    fixes = [line.strip() for line in out if line.strip().startswith("fix:")]
    assert len(errors) == 2 and len(fixes) == 2
    assert "title field 'nmae' is not in the mapping" in errors[0]
    assert "did you mean 'name'?" in fixes[0]
    assert "popularity field 'blurb' is of type text" in errors[1]
    assert "templates not run" in out[-1]


def test_doctor_reports_the_description_against_the_live_mapping(books, capsys):
    books(description(books.index).replace('genre = "category"', 'genre = "name"'))
    main(["doctor", "--json"])
    checks = [c for c in json.loads(capsys.readouterr().out)["checks"] if c["name"] == "catalog"]
    assert [c["status"] for c in checks] == ["error"]
    assert "facet genre field 'name' is of type text" in checks[0]["detail"]
    assert checks[0]["fix"].endswith("name 'name.raw' instead of 'name'")


def test_doctor_says_a_fitting_description_fits(books, capsys):
    books(description(books.index))
    main(["doctor", "--json"])
    [check] = [c for c in json.loads(capsys.readouterr().out)["checks"] if c["name"] == "catalog"]
    assert check["status"] == "ok" and "title=name" in check["detail"]


def test_explain_says_fresh_releases_is_unavailable_without_a_date_field(books, capsys):
    from ltrr_opensearch.config import PACKAGE_ROOT

    books(description(books.index).replace('date = "published"\n', ""))
    policy = str(PACKAGE_ROOT / "policies" / "linucb.toml")
    assert main(["search", "dune", "--bandit", policy, "--explain", "--no-log"]) == 0
    out = capsys.readouterr().out
    assert ("fresh_releases     unavailable: the catalog description 'books' has no date field"
            in out)


def test_a_catalog_with_future_dates_measures_recency_from_today(client, settings):
    from datetime import date

    from ltrr_opensearch.retrieve.catalog import date_stats

    index = f"{settings.index_prefix}-dated"
    client.indices.create(index=index, body={"mappings": {"properties": {
        "published": {"type": "date"}}}})
    for n, day in enumerate(("2000-01-01", "2010-01-01", "2999-01-01")):
        client.index(index=index, id=str(n), body={"published": day})
    client.indices.refresh(index=index)
    stats = date_stats(client, settings, index, "published", today=date(2020, 1, 1))
    assert stats == {"latest": "2020-01-01", "median": "2010-01-01", "pivot": "3652d"}
    client.indices.create(index=f"{index}-none", body={"mappings": {"properties": {
        "published": {"type": "date"}}}})
    assert date_stats(client, settings, f"{index}-none", "published") is None
