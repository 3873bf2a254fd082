"""Bulk writes and full reads through opensearch-py's helpers, on the real node."""

from __future__ import annotations

import pytest

from ltrr_opensearch.bulk import action, bulk_write, scan
from ltrr_opensearch.errors import LtrrError

pytestmark = pytest.mark.integration


@pytest.fixture()
def index(client, settings):
    name = f"{settings.index_prefix}-bulk"
    client.indices.create(index=name, body={"mappings": {"dynamic": "strict", "properties": {
        "n": {"type": "integer"}, "key": {"type": "keyword"}}}})
    return name


def test_every_acknowledged_doc_is_stored_and_searchable_with_refresh(client, index):
    written = bulk_write(client, (action("index", index, f"d{i}", {"n": i}) for i in range(50)),
                         "test docs", refresh="wait_for")
    assert written == 50
    assert client.count(index=index)["count"] == 50


def test_a_refused_doc_is_named_in_the_error(client, index):
    docs = [action("index", index, "good", {"n": 1}), action("index", index, "bad", {"n": "x"}),
            action("index", index, "worse", {"other": 1})]
    with pytest.raises(LtrrError, match=r"refused 2 of 3 test docs; first \S+/bad \(status 400\)"):
        bulk_write(client, docs, "test docs")


def test_create_of_a_stored_doc_is_accepted_only_when_asked(client, index):
    bulk_write(client, [action("create", index, "a", {"n": 1})], "test docs")
    assert bulk_write(client, [action("create", index, "a", {"n": 1})], "test docs",
                      ok=(409,)) == 0
    with pytest.raises(LtrrError, match="status 409"):
        bulk_write(client, [action("create", index, "a", {"n": 1})], "test docs")


def test_scan_reads_past_one_page_in_sort_order(client, index):
    bulk_write(client, (action("index", index, f"d{i}", {"n": i, "key": f"k{i:04d}"})
                        for i in range(2500)), "test docs", refresh=True)
    hits = list(scan(client, index, {"range": {"n": {"gte": 100}}}, ("key",), ["n"],
                     page_size=1000))
    assert [h["_source"]["n"] for h in hits] == list(range(100, 2500))
