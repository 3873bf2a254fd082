"""Synonyms in the catalog description, and the gazetteer's synonyms and learned phrases
(no node: the vocabularies are given)."""

from __future__ import annotations

import pytest

from ltrr_opensearch.catalog.description import parse_description
from ltrr_opensearch.errors import ConfigError
from ltrr_opensearch.types import Slot
from ltrr_opensearch.understand import Gazetteer, understand
from ltrr_opensearch.understand.gazetteer import LearnedPhrase

SCHOOLS = {"name": "schools", "index": "institutions",
           "fields": {"id": "unitid", "type": "kind", "title": ["name"]},
           "facets": {"state": "state", "degree": "degree"}}

VOCAB = {"state": {"Ohio": 40.0, "Virginia": 30.0, "Minnesota": 20.0},
         "degree": {"bachelor": 50.0, "associate": 40.0, "certificate": 30.0,
                    "graduate": 1.0}}


def described(**synonyms):
    return parse_description({**SCHOOLS, "synonyms": synonyms})


def schools(synonyms=None, learned=()):
    gazetteer = Gazetteer(VOCAB, ["Springfield College", "North American Trade Schools"],
                          entity_types=["college"], synonyms=synonyms)
    return gazetteer.with_learned(learned, "v1") if learned else gazetteer


def slots(query, gazetteer):
    return [(s.kind, s.value, s.text, round(s.confidence, 2), s.source)
            for s in understand(query, gazetteer).slots]


# -- the description -------------------------------------------------------------------------

def test_synonyms_are_read_per_kind_as_written():
    d = described(degree={"universities": "bachelor", "community college": "associate"},
                  entity_type={"schools": "college"})
    assert d.synonyms == {"degree": {"universities": "bachelor",
                                     "community college": "associate"},
                          "entity_type": {"schools": "college"}}


def test_every_synonym_problem_is_reported_at_once_naming_its_key():
    with pytest.raises(ConfigError) as raised:
        parse_description({
            **SCHOOLS, "fields": {"id": "unitid", "title": ["name"]},  # no type field
            "synonyms": {
                "color": {"red": "crimson"},                      # not a facet kind
                "degree": {"universities": ["bachelor"],          # not one value
                           "!!": "bachelor",                      # no words
                           "a b c d e f": "bachelor",             # longer than 5 words
                           "Community-College": "associate",
                           "community college": "certificate"},   # same phrase twice
                "state": {"universities": "Virginia"},            # same phrase, two kinds
                "entity_type": {"schools": "college"},            # the catalog has no types
            }})
    message = raised.value.message
    for expected in ("[synonyms.color]: 'color' is neither a kind of [facets] (degree, state) "
                     "nor entity_type",
                     "[synonyms.degree] 'universities' must name one value",
                     "[synonyms.degree] phrase '!!' has no words",
                     "[synonyms.degree] phrase 'a b c d e f' is longer than 5 words",
                     "[synonyms.degree] 'community college' is the same phrase as "
                     "'Community-College' of the same table",
                     "[synonyms.entity_type]: the catalog has no entity types"):
        assert expected in message, expected
    assert message.count("; ") == 5  # six problems, one message


def test_a_phrase_in_two_kinds_is_refused():
    with pytest.raises(ConfigError, match=r"\[synonyms.state\] 'universities' is the same "
                                          r"phrase as \[synonyms.degree\] 'universities'"):
        described(degree={"universities": "bachelor"}, state={"universities": "Virginia"})


def test_a_managed_catalogs_type_synonym_must_name_a_declared_type():
    with pytest.raises(ConfigError, match=r"names the type 'film', which is not in \[types\]"):
        parse_description({"fields": {"type": "entity_type", "title": ["title"]},
                           "types": {"values": ["movie"]},
                           "synonyms": {"entity_type": {"flicks": "film"}}})


def test_synonyms_must_be_tables_of_phrases():
    with pytest.raises(ConfigError, match=r"\[synonyms.degree\] must be a table"):
        described(degree="bachelor")
    with pytest.raises(ConfigError, match=r"\[synonyms\] must be a table"):
        parse_description({**SCHOOLS, "synonyms": ["universities"]})


# -- the gazetteer ------------------------------------------------------------------------

def test_a_synonym_is_a_plain_slot_of_its_kind_and_value_marked_synonym():
    gazetteer = schools({"degree": {"universities": "bachelor"}})
    assert understand("universities in virginia", gazetteer).slots == (
        Slot("degree", "bachelor", "universities", 1.0, "synonym"),
        Slot("state", "Virginia", "virginia", 1.0, "catalog"))


def test_a_synonym_names_a_value_in_the_form_the_catalog_stores_it():
    gazetteer = schools({"degree": {"community college": "Associate"},
                         "state": {"buckeye state": "ohio"}})
    assert slots("buckeye state community college", gazetteer) == [
        ("state", "Ohio", "buckeye state", 1.0, "synonym"),
        ("degree", "associate", "community college", 1.0, "synonym")]
    assert gazetteer.unresolved_synonyms == []


def test_a_synonym_of_a_value_the_catalog_lacks_is_ignored_and_listed():
    gazetteer = schools({"degree": {"universities": "doctorate"}})
    assert slots("universities", gazetteer) == []
    assert gazetteer.unresolved_synonyms == [("degree", "universities", "doctorate")]


def test_a_nouns_synonym_is_matched_in_either_number():
    gazetteer = schools({"degree": {"community college": "associate", "universities": "bachelor"},
                         "entity_type": {"school": "college"}})
    assert slots("community colleges", gazetteer)[0][:2] == ("degree", "associate")
    assert slots("university", gazetteer)[0][:2] == ("degree", "bachelor")
    assert slots("schools", gazetteer) == [("entity_type", "college", "schools", 1.0, "synonym")]


def test_a_synonym_follows_the_matching_rules_longest_span_then_exact_before_fuzzy():
    gazetteer = schools({"degree": {"graduate certificate": "certificate"}})
    # The longer synonym wins over the value "graduate" inside it ...
    assert slots("graduate certificate", gazetteer) == [
        ("degree", "certificate", "graduate certificate", 1.0, "synonym")]
    # ... alone, "graduate" is the catalog's value; a typo of the synonym is a fuzzy match.
    assert slots("graduate", gazetteer) == [("degree", "graduate", "graduate", 1.0, "catalog")]
    assert slots("graduate certificat", gazetteer) == [
        ("degree", "certificate", "graduate certificat", 0.95, "synonym")]


def test_a_synonym_that_is_another_value_of_its_kind_leaves_that_value_alone():
    gazetteer = schools({"degree": {"graduate": "bachelor"}})
    assert slots("graduate", gazetteer) == [("degree", "graduate", "graduate", 1.0, "catalog")]


def test_a_learned_phrase_is_a_slot_whose_confidence_is_its_share():
    learned = [LearnedPhrase("trade schools", "degree", "certificate", 0.9, 3.0, 3)]
    gazetteer = schools(learned=learned)
    assert understand("trade schools in minnesota", gazetteer).slots == (
        Slot("degree", "certificate", "trade schools", 0.9, "learned"),
        Slot("state", "Minnesota", "minnesota", 1.0, "catalog"))
    assert gazetteer.learned == tuple(learned)
    assert gazetteer.learned_phrase("Trade Schools") == learned[0]
    assert gazetteer.learned_version == "v1"


def test_the_catalogs_vocabulary_wins_over_a_learned_phrase():
    gazetteer = schools({"degree": {"universities": "bachelor"}}, learned=[
        LearnedPhrase("universities", "degree", "associate", 1.0),
        LearnedPhrase("ohio", "degree", "associate", 1.0),
        LearnedPhrase("online", "degree", "doctorate", 1.0)])  # a value the catalog lacks
    assert slots("universities online ohio", gazetteer) == [
        ("degree", "bachelor", "universities", 1.0, "synonym"),
        ("state", "Ohio", "ohio", 1.0, "catalog")]
    assert gazetteer.learned == ()


def test_replacing_the_learned_phrases_leaves_the_original_gazetteer_as_it_was():
    base = schools()
    learned = base.with_learned([LearnedPhrase("trade schools", "degree", "certificate", 1.0)])
    assert slots("trade schools", base) == []
    assert slots("trade schools", learned)[0][4] == "learned"
    assert slots("trade schools", learned.with_learned(())) == []
