"""Query understanding without a node: normalisation, Q2E keys, slots, intent, context."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ltrr_opensearch.errors import ValidationError
from ltrr_opensearch.types import Slot
from ltrr_opensearch.understand import (
    CONTEXT_NAMES,
    CONTEXT_VERSION,
    ContextSpec,
    Gazetteer,
    normalize_query,
    q2e_key,
    understand,
)
from ltrr_opensearch.understand.intent import detect_intent
from ltrr_opensearch.understand.normalize import MAX_QUERY_CHARS

NOON_SATURDAY = datetime(2024, 1, 6, 12, 0)

ROWS = [
    {"id": "a1", "entity_type": "artist", "title": "Taylor"},
    {"id": "a2", "entity_type": "artist", "title": "Blues"},
    {"id": "a3", "entity_type": "artist", "title": "Taylor Swift"},
    {"id": "t1", "entity_type": "track", "title": "Love Story", "artist": "Taylor Swift",
     "genres": ["rock", "hip-hop"], "moods": ["sad"], "decade": "1990s", "language": "en"},
    {"id": "t2", "entity_type": "track", "title": "Midnight", "artist": "Hip",
     "genres": ["blues", "indie rock"], "moods": ["chill"], "decade": "2020s", "language": "es"},
    {"id": "t3", "entity_type": "track", "title": "Old", "artist": None, "genres": [],
     "decade": "1920s"},
    {"id": "p1", "entity_type": "playlist", "title": "Beyoncé hits", "artist": "Beyoncé"},
    {"id": "l1", "entity_type": "album", "title": "Red", "artist": "Taylor Swift"},
    {"id": "c1", "entity_type": "podcast", "title": "Daily"},
]


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return Gazetteer.from_rows(ROWS)


def slots_of(query: str, gazetteer: Gazetteer) -> list[tuple[str, str]]:
    return [(s.kind, s.value) for s in understand(query, gazetteer, now=NOON_SATURDAY).slots]


# -- normalize_query -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Beyoncé", "beyonce"),
        ("  Hello,   WORLD!! ", "hello world"),
        ("Straße", "strasse"),
        ("'90s", "90s"),
        ("Guns N' Roses", "guns n roses"),
        ("AC/DC", "ac dc"),
        ("ＦＵＬＬ ｗｉｄｔｈ", "full width"),
        ("Sigur Rós – Ágætis byrjun", "sigur ros agaetis byrjun"),
        ("Mötley Crüe", "motley crue"),
        ("tab\tand\nnewline\x00null", "tab and newline null"),
        ("東京", "東京"),
        ("", ""),
        ("?!", ""),
    ],
)
def test_normalize_query_folds_case_accents_and_punctuation(raw, expected):
    assert normalize_query(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Titan A.E.", "titan a.e"),
        ("L.A. Story", "l.a story"),
        ("E.T. the Extra-Terrestrial", "e.t the extra terrestrial"),
        ("S.W.A.T.", "s.w.a.t"),
        ("É.T.", "e.t"),
        ("version 1.5", "version 1.5"),
        ("1,000 ways", "1,000 ways"),
        ("Re:Zero", "re:zero"),
        ("Dr. Dre", "dr dre"),
        ("a..e", "a e"),
        ("a.1", "a 1"),
        ("Star Wars: Episode", "star wars episode"),
        ("red, white", "red white"),
    ],
)
def test_normalize_query_keeps_punctuation_the_standard_tokenizer_keeps_inside_words(
        raw, expected):
    # The catalog analyzers' standard tokenizer indexes "A.E." as the one token "a.e":
    # a dot between letters or digits, a colon between letters, a comma between digits.
    assert normalize_query(raw) == expected


def test_normalize_query_makes_accented_and_plain_spelling_equal():
    assert normalize_query("Beyoncé") == normalize_query("beyonce")


def test_normalize_query_keeps_meaningful_marks_outside_latin_scripts():
    # The dakuten turns か into が; dropping it would merge different words.
    assert normalize_query("がき") != normalize_query("かき")


def test_normalize_query_caps_very_long_input_at_a_word_boundary():
    out = normalize_query("word " * 1000)
    assert 0 < len(out) <= MAX_QUERY_CHARS
    assert set(out.split()) == {"word"}


def test_normalize_query_caps_a_single_huge_token():
    assert normalize_query("x" * 10_000) == "x" * MAX_QUERY_CHARS


def test_normalize_query_rejects_non_strings():
    with pytest.raises(TypeError, match="must be a str"):
        normalize_query(None)  # type: ignore[arg-type]


@given(st.text(max_size=80))
def test_normalize_query_is_idempotent(text):
    once = normalize_query(text)
    assert normalize_query(once) == once


# -- q2e_key ---------------------------------------------------------------------------

_KEY = re.compile(r"[a-z0-9_]+")


def test_q2e_key_of_plain_query_is_its_readable_slug():
    assert q2e_key("taylor swift") == "taylor_swift"


def test_q2e_key_is_the_same_for_accented_and_plain_spelling():
    assert q2e_key(normalize_query("Beyoncé")) == q2e_key("beyonce") == "beyonce"


def test_q2e_key_of_non_latin_query_is_a_hash():
    key = q2e_key(normalize_query("東京"))
    assert re.fullmatch(r"__[0-9a-f]{10}", key)
    assert key != q2e_key(normalize_query("大阪"))


def test_q2e_key_of_mixed_script_query_keeps_the_readable_part_and_adds_a_hash():
    key = q2e_key(normalize_query("東京 rock"))
    assert re.fullmatch(r"rock__[0-9a-f]{10}", key)
    assert key != q2e_key("rock")


def test_q2e_key_of_long_query_is_truncated_and_hashed():
    long_a = "a " * 40 + "ending one"
    long_b = "a " * 40 + "ending two"
    key_a, key_b = q2e_key(normalize_query(long_a)), q2e_key(normalize_query(long_b))
    assert key_a != key_b
    assert len(key_a) <= 60 + 2 + 10


@pytest.mark.parametrize("query", ["a.b", "v1.2.3", "dr. dre"])
def test_q2e_key_never_contains_dots(query):
    key = q2e_key(normalize_query(query))
    assert key and "." not in key


def test_q2e_key_of_an_initialism_is_dot_free_and_not_that_of_the_spaced_letters():
    dotted, spaced = q2e_key(normalize_query("Titan A.E.")), q2e_key(normalize_query("titan a e"))
    assert dotted.startswith("titan_ae__") and "." not in dotted
    assert dotted != spaced == "titan_a_e"
    assert q2e_key(normalize_query("titan a.e")) == dotted


def test_q2e_key_of_dots_only_is_refused_rather_than_empty_or_dotted():
    assert normalize_query("...") == ""
    with pytest.raises(ValueError, match="empty after normalisation"):
        q2e_key("...")


def test_q2e_key_rejects_a_query_that_normalises_to_nothing():
    with pytest.raises(ValueError, match="empty after normalisation"):
        q2e_key("?!")


@given(st.text(max_size=40), st.text(max_size=40))
def test_q2e_keys_of_different_queries_never_collide(a, b):
    na, nb = normalize_query(a), normalize_query(b)
    if na and nb and na != nb:
        assert q2e_key(na) != q2e_key(nb)


@given(st.text(min_size=1, max_size=80))
def test_q2e_key_is_short_and_uses_only_safe_characters(text):
    normalized = normalize_query(text)
    if normalized:
        key = q2e_key(normalized)
        assert _KEY.fullmatch(key) and 0 < len(key) <= 72


def test_q2e_key_of_a_hashed_query_cannot_equal_a_plain_one():
    hashed = q2e_key(normalize_query("東京 rock"))
    # Even a query spelling out the hashed key is stored under a different name.
    assert q2e_key(hashed.replace("_", " ")) != hashed


# -- gazetteer matching ----------------------------------------------------------------


def test_typo_in_artist_gives_fuzzy_artist_slot_and_keyword(gazetteer):
    u = understand("tayler love", gazetteer, now=NOON_SATURDAY)
    assert [(s.kind, s.value) for s in u.slots] == [("artist", "Taylor")]
    assert 0.5 < u.slots[0].confidence < 1.0
    assert u.keywords == ("love",)


def test_short_decade_and_typo_genre_are_recognised(gazetteer):
    u = understand("90s rok", gazetteer, now=NOON_SATURDAY)
    assert [(s.kind, s.value) for s in u.slots] == [("decade", "1990s"), ("genre", "rock")]
    assert u.slots[0].confidence == 1.0 and u.slots[1].confidence < 1.0
    assert u.keywords == ()


@pytest.mark.parametrize("spelling", ["90s", "'90s", "90's", "1990s", "nineties", "Nineties"])
def test_decade_spellings_map_to_the_catalog_decade(gazetteer, spelling):
    assert slots_of(spelling, gazetteer) == [("decade", "1990s")]


def test_ambiguous_short_decade_goes_to_the_most_recent_catalog_decade(gazetteer):
    assert slots_of("20s", gazetteer) == [("decade", "2020s")]
    assert slots_of("1920s", gazetteer) == [("decade", "1920s")]


@pytest.mark.parametrize(
    ("word", "entity_type"),
    [("songs", "track"), ("song", "track"), ("tracks", "track"), ("albums", "album"),
     ("lp", "album"), ("record", "album"), ("mix", "playlist"), ("playlist", "playlist"),
     ("episode", "podcast"), ("podcast", "podcast"), ("band", "artist"), ("singer", "artist")],
)
def test_entity_type_synonyms(gazetteer, word, entity_type):
    assert slots_of(word, gazetteer) == [("entity_type", entity_type)]


def test_language_names_match_but_bare_codes_do_not(gazetteer):
    assert slots_of("english", gazetteer) == [("language", "en")]
    assert slots_of("Español", gazetteer) == [("language", "es")]
    assert slots_of("en es", gazetteer) == []


def test_longer_span_wins_over_shorter_exact_match(gazetteer):
    # "taylor" alone is an artist, but "taylor swift" is a longer one.
    assert slots_of("taylor swift", gazetteer) == [("artist", "Taylor Swift")]
    # "hip" is an artist, "hip hop" a genre: the two-token genre wins.
    assert slots_of("hip hop", gazetteer) == [("genre", "hip-hop")]
    assert slots_of("indie rock", gazetteer) == [("genre", "indie rock")]


def test_longer_fuzzy_span_wins_over_shorter_exact_match(gazetteer):
    slots = understand("taylor swiftt", gazetteer, now=NOON_SATURDAY).slots
    assert [(s.kind, s.value) for s in slots] == [("artist", "Taylor Swift")]
    assert slots[0].confidence < 1.0


def test_phrase_that_is_genre_and_artist_resolves_to_genre(gazetteer):
    assert slots_of("blues", gazetteer) == [("genre", "blues")]


def test_accented_catalog_value_matches_plain_query(gazetteer):
    assert slots_of("beyonce", gazetteer) == [("artist", "Beyoncé")]


def test_stopwords_and_numbers_are_never_typo_matched(gazetteer):
    assert slots_of("the", gazetteer) == []
    assert slots_of("1999", gazetteer) == []


def test_three_letter_words_are_not_typo_matched_to_artists():
    gazetteer = Gazetteer.from_rows([{"id": "1", "entity_type": "artist", "title": "Abba"}])
    assert slots_of("aba", gazetteer) == []
    assert slots_of("abbba", gazetteer) == [("artist", "Abba")]


def test_words_of_catalog_titles_are_not_taken_as_typos():
    rows = [{"id": "a", "entity_type": "artist", "title": "Roan"},
            {"id": "t", "entity_type": "track", "title": "Road Trip", "artist": "Roan"}]
    gazetteer = Gazetteer.from_rows(rows)
    assert slots_of("road", gazetteer) == []
    assert slots_of("roen", gazetteer) == [("artist", "Roan")]


def test_words_of_vocabulary_values_are_not_taken_as_typos(gazetteer):
    # "swift" is part of "Taylor Swift", so it is a word, not a typo of another value.
    assert slots_of("swift", gazetteer) == []


def test_fuzzy_tie_goes_to_the_value_the_catalog_uses_most():
    rows = [{"id": str(i), "entity_type": "track", "title": "x", "artist": "Tyler"}
            for i in range(3)]
    rows.append({"id": "a", "entity_type": "artist", "title": "Taylor"})
    assert slots_of("tayler", Gazetteer.from_rows(rows)) == [("artist", "Tyler")]


def test_unrelated_words_give_no_slots(gazetteer):
    u = understand("purple elephant dreams", gazetteer, now=NOON_SATURDAY)
    assert u.slots == () and u.keywords == ("purple", "elephant", "dreams")


def test_gazetteer_exposes_canonical_values(gazetteer):
    assert "Taylor Swift" in gazetteer.values("artist")
    assert gazetteer.values("decade") == ("1920s", "1990s", "2020s")
    assert "track" in gazetteer.values("entity_type")


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"id": "x", "entity_type": "track", "title": "t", "genres": {"rock": 1}}, "'genres'"),
        ({"id": "x", "entity_type": "track", "title": "t", "artist": 7}, "'artist'"),
        ({"id": "x", "entity_type": "track", "title": "t", "moods": [1]}, "'moods'"),
    ],
)
def test_from_rows_names_the_row_and_field_of_bad_input(row, message):
    with pytest.raises(ValidationError, match=message) as info:
        Gazetteer.from_rows([ROWS[0], row])
    assert "row 1" in info.value.message and "id='x'" in info.value.message


def test_from_rows_rejects_a_row_that_is_not_an_object():
    with pytest.raises(ValidationError, match="row 0 is a list"):
        Gazetteer.from_rows([["not", "a", "row"]])


def test_entity_type_words_are_those_of_the_types_the_catalog_has():
    tracks_only = Gazetteer.from_rows([{"id": "t", "entity_type": "track", "title": "x"}])
    assert slots_of("songs", tracks_only) == [("entity_type", "track")]
    assert slots_of("albums", tracks_only) == []
    assert slots_of("songs", Gazetteer.from_rows([])) == []


# -- the catalog's spelling of punctuated words ----------------------------------------

PUNCTUATED = [
    {"id": "m1", "entity_type": "track", "title": "Titan A.E.", "artist": "AC/DC",
     "genres": ["R&B", "hip-hop"]},
    {"id": "m2", "entity_type": "track", "title": "L.A. Story", "artist": "B.B. King"},
    {"id": "m3", "entity_type": "track", "title": "M*A*S*H", "artist": "Someone"},
    {"id": "m4", "entity_type": "track", "title": "La Bamba", "artist": "Los Lobos"},
]


@pytest.fixture(scope="module")
def punctuated() -> Gazetteer:
    return Gazetteer.from_rows(PUNCTUATED)


@pytest.mark.parametrize(
    ("query", "searched"),
    [
        ("Titan A.E.", "titan a.e"),
        ("titan a.e", "titan a.e"),
        ("titan ae", "titan a.e"),
        ("titan a e", "titan a.e"),
        ("l a story", "l.a story"),
        ("acdc", "ac dc"),
        ("ac dc", "ac dc"),
        ("rnb", "r b"),
        ("r and b", "r b"),
        ("r n b", "r b"),
        ("mash", "m a s h"),
        ("hiphop", "hip hop"),
        ("bb king", "b.b king"),
    ],
)
def test_typed_forms_of_punctuated_catalog_words_are_searched_as_the_catalog_spells_them(
        punctuated, query, searched):
    assert understand(query, punctuated, now=NOON_SATURDAY).match_text == searched


def test_a_typed_form_that_is_a_catalog_word_is_kept_as_typed(punctuated):
    # "La Bamba" makes "la" a word of the catalog, so it is not read as "L.A.".
    assert understand("la story", punctuated, now=NOON_SATURDAY).match_text == "la story"


def test_rewritten_forms_are_recognised_as_the_catalog_values(punctuated):
    assert slots_of("acdc", punctuated) == [("artist", "AC/DC")]
    assert slots_of("r and b", punctuated) == [("genre", "R&B")]
    assert slots_of("bb king", punctuated) == [("artist", "B.B. King")]


def test_the_memory_key_does_not_depend_on_the_catalog_spelling(punctuated):
    u = understand("titan ae", punctuated, now=NOON_SATURDAY)
    assert u.normalized == "titan ae" and u.match_text == "titan a.e"


def test_a_catalog_spelling_of_several_letters_is_not_split_into_another_one():
    titles = ["B*A*P*S", "P.S.", "The D.I.", "Ladri di biciclette"]
    gazetteer = Gazetteer.from_rows([{"id": t, "entity_type": "track", "title": t}
                                     for t in titles])
    assert understand("B*A*P*S", gazetteer, now=NOON_SATURDAY).match_text == "b a p s"
    assert understand("p s", gazetteer, now=NOON_SATURDAY).match_text == "p.s"
    # The exact dotted form is searched as typed even where the plain letters are a word.
    assert understand("The D.I.", gazetteer, now=NOON_SATURDAY).match_text == "the d.i"


# -- vocabularies from the catalog description -----------------------------------------

FILMS = [
    {"id": "f1", "entity_type": "movie", "title": "Toy Story", "genres": ["animation", "comedy"],
     "decade": "1990s", "release_date": "1995-01-01"},
    {"id": "f2", "entity_type": "movie", "title": "Airplane!", "genres": ["comedy"],
     "decade": "1980s", "release_date": "1980-01-01"},
]


@pytest.fixture(scope="module")
def films() -> Gazetteer:
    from ltrr_opensearch.catalog.description import load_description

    return Gazetteer.from_rows(FILMS, load_description("films"))


def test_a_films_catalog_recognises_its_facets_and_its_type_by_name_and_plural(films):
    assert slots_of("90s comedy", films) == [("decade", "1990s"), ("genre", "comedy")]
    assert slots_of("animation movies", films) == [("genre", "animation"),
                                                   ("entity_type", "movie")]
    assert slots_of("a movie", films) == [("entity_type", "movie")]


def test_genres_are_recognised_in_the_plural(films):
    assert slots_of("comedies from the 90s", films) == [("genre", "comedy"), ("decade", "1990s")]


def test_a_plural_that_is_another_value_stays_that_value():
    gazetteer = Gazetteer.from_rows([{"id": "1", "entity_type": "track", "title": "x",
                                      "genres": ["drama", "dramas"]}])
    assert slots_of("dramas", gazetteer) == [("genre", "dramas")]


def test_a_films_catalog_knows_no_music_type_words(films):
    assert slots_of("songs", films) == [] and films.values("entity_type") == ("movie",)


def test_a_films_catalog_guesses_no_music_intent(films):
    # Attributes alone would mean "playlist" in music; a films catalog has none.
    assert understand("90s comedy", films, now=NOON_SATURDAY).intent is None
    assert understand("animation movies", films, now=NOON_SATURDAY).intent == "movie"


SHOP = {"fields": {"title": "name", "creator": "brand", "type": "kind", "date": "released"},
        "facets": {"color": "color", "category": "category"}}
SHOP_ROWS = [
    {"name": "Runner", "brand": "Nike", "kind": "product", "color": "red", "category": "shoes",
     "released": "2019-03-01"},
    {"name": "Oxford", "brand": "Acme", "kind": "product", "color": ["blue", "navy"],
     "category": "shirts", "released": 2021},
]


@pytest.fixture(scope="module")
def shop() -> Gazetteer:
    from ltrr_opensearch.catalog.description import parse_description

    return Gazetteer.from_rows(SHOP_ROWS, parse_description(SHOP))


def test_generic_facet_kinds_become_slots_of_that_kind(shop):
    assert slots_of("navy shirts", shop) == [("color", "navy"), ("category", "shirts")]
    assert [(s.kind, s.value) for s in understand("blu", shop).slots] == [("color", "blue")]


def test_generic_facet_values_are_recognised_in_either_number(shop):
    assert slots_of("shoe", shop) == [("category", "shoes")]
    assert slots_of("shirt", shop) == [("category", "shirts")]


def test_creators_are_artist_slots_and_any_type_is_known_by_name_and_plural(shop):
    assert slots_of("nike products", shop) == [("artist", "Nike"), ("entity_type", "product")]


def test_periods_come_from_the_date_field_without_a_decade_facet(shop):
    assert shop.values("decade") == ("2010s", "2020s")
    assert slots_of("2010s shoes", shop) == [("decade", "2010s"), ("category", "shoes")]
    assert slots_of("twenties", shop) == [("decade", "2020s")]
    assert slots_of("2019", shop) == [("year", "2019")]


def test_a_films_catalog_with_a_decade_facet_reads_no_years(films):
    assert films.values("decade") == ("1980s", "1990s")
    with pytest.raises(ValueError, match="unknown kind 'year'"):
        films.values("year")


@pytest.mark.parametrize(("entity_type", "words"), [
    ("movie", ("movie", "movies")), ("category", ("category", "categories")),
    ("box", ("box", "boxes")), ("series", ("series",)), ("tv_show", ("tv show", "tv shows")),
    ("track", ("track", "tracks", "song", "songs", "tune", "tunes")),
])
def test_type_words_are_music_synonyms_or_the_name_and_its_plural(entity_type, words):
    from ltrr_opensearch.understand.gazetteer import type_words

    assert type_words(entity_type) == words


def test_a_malformed_kind_is_refused():
    with pytest.raises(ValueError, match="lowercase identifiers"):
        Gazetteer({"Bad Kind": {"x": 1.0}})


# -- intent ----------------------------------------------------------------------------


def _slot(kind, value, confidence=1.0):
    return Slot(kind, value, value, confidence)


@pytest.mark.parametrize(
    ("slots", "keywords", "intent"),
    [
        ([_slot("artist", "Adele"), _slot("entity_type", "album")], [], "album"),
        ([_slot("artist", "Adele")], [], "artist"),
        ([_slot("artist", "Adele")], ["hello"], "track"),
        ([_slot("decade", "1990s"), _slot("genre", "rock")], [], "playlist"),
        ([_slot("genre", "rock")], ["anthems"], "track"),
        ([], ["hello"], None),
        ([], [], None),
    ],
)
def test_intent_rules(slots, keywords, intent):
    assert detect_intent(slots, keywords)[0] == intent


def test_explicit_type_word_gives_the_most_confident_intent():
    explicit = detect_intent([_slot("entity_type", "album")], [])[1]
    artist_only = detect_intent([_slot("artist", "Adele")], [])[1]
    attributes = detect_intent([_slot("genre", "rock")], [])[1]
    assert 1.0 >= explicit > artist_only > attributes > 0.0
    assert detect_intent([], ["x"]) == (None, 0.0)


def test_two_different_type_words_lower_confidence_and_first_wins():
    one = detect_intent([_slot("entity_type", "playlist")], [])
    two = detect_intent([_slot("entity_type", "playlist"), _slot("entity_type", "track")], [])
    assert two[0] == "playlist" and two[1] < one[1]


def test_fuzzy_slots_lower_intent_confidence():
    exact = detect_intent([_slot("artist", "Adele")], [])[1]
    fuzzy = detect_intent([_slot("artist", "Adele", 0.8)], [])[1]
    assert fuzzy < exact


# -- context vector --------------------------------------------------------------------


def test_context_vector_has_the_documented_version_names_and_width(gazetteer):
    ctx = understand("90s rok", gazetteer, now=NOON_SATURDAY).context
    assert ctx.version == CONTEXT_VERSION == "ctx-v3"
    assert ctx.names == CONTEXT_NAMES
    assert len(ctx.values) == len(CONTEXT_NAMES) == len(set(CONTEXT_NAMES))


def test_context_values_are_scaled(gazetteer):
    clock = ContextSpec(clock=True)
    for query in ["", "x", "tayler love", "90s rok songs " * 30, "東京 rock"]:
        for spec in (None, clock):
            values = understand(query, gazetteer, now=NOON_SATURDAY, spec=spec).context.values
            assert all(-1.0 <= v <= 1.0 for v in values), query


def test_context_describes_the_query(gazetteer):
    u = understand("90s rok", gazetteer, now=NOON_SATURDAY)
    ctx = dict(zip(u.context.names, u.context.values, strict=True))
    assert ctx["bias"] == 1.0 and ctx["has_digits"] == 1.0
    assert ctx["slots_period"] == 0.5 and ctx["slots_facet"] == 0.5
    assert ctx["slots_creator"] == 0 and ctx["slots_type"] == 0
    assert ctx["slot_coverage"] == 1.0
    assert ctx["typo_score"] == pytest.approx(1.0 - u.slots[1].confidence)
    assert u.intent == "playlist" and ctx["intent_type_other"] == 1.0  # the 4th type of ROWS
    assert ctx["exact_title"] == 0.0 and ctx["memory_available"] == 0.0


def test_slots_are_counted_by_class_whatever_the_catalog_calls_its_facets():
    from ltrr_opensearch.catalog.description import parse_description

    d = parse_description({"fields": {"id": "id", "type": "kind", "title": ["name"]},
                           "facets": {"state": "state", "degree": "degree"}})
    rows = [{"id": "u1", "kind": "school", "name": "Oberlin College", "state": "Ohio",
             "degree": "bachelor"}]
    gazetteer = Gazetteer.from_rows(rows, d)
    ctx = _context(understand("bachelor colleges in ohio", gazetteer))
    assert ctx["slots_facet"] == 1.0  # two facet slots of two different kinds, capped at 1
    assert ctx["slots_creator"] == ctx["slots_period"] == 0.0


def test_the_clock_is_off_unless_the_spec_turns_it_on(gazetteer):
    morning = datetime(2024, 1, 8, 6, 0)
    plain = understand("rock", gazetteer, now=morning).context
    later = understand("rock", gazetteer, now=NOON_SATURDAY).context
    assert plain == later and not {"hour_sin", "hour_cos", "weekend"} & set(plain.names)
    timed = _context(understand("rock", gazetteer, now=morning, spec=ContextSpec(clock=True)))
    assert timed["weekend"] == 0.0 and timed["hour_sin"] == 1.0
    saturday = understand("90s rok", gazetteer, now=NOON_SATURDAY, spec=ContextSpec(clock=True))
    noon = _context(saturday)
    assert noon["hour_sin"] == pytest.approx(0.0, abs=1e-9) and noon["hour_cos"] == -1.0
    assert noon["weekend"] == 1.0
    assert saturday.context.version == "ctx-v3+clock" != plain.version


def test_context_of_a_query_without_slots():
    ctx = _context(understand("hello", Gazetteer.from_rows([]), now=datetime(2024, 1, 8, 6, 0)))
    assert ctx["intent_none"] == 1.0 and ctx["slot_coverage"] == 0.0
    assert ctx["intent_confidence"] == 0.0


def test_intent_is_the_catalog_s_own_type_by_how_common_it_is(gazetteer):
    # ROWS: 3 tracks, 3 artists, then album, playlist, podcast (one each; ties by name).
    assert gazetteer.type_rank("artist") == 1 and gazetteer.type_rank("track") == 2
    assert gazetteer.type_rank("album") == 3 and gazetteer.type_rank("podcast") == 5
    assert gazetteer.type_rank("movie") is None
    assert _context(understand("taylor swift", gazetteer))["intent_type_1"] == 1.0  # artist
    assert _context(understand("taylor swift love", gazetteer))["intent_type_2"] == 1.0
    assert _context(understand("albums", gazetteer))["intent_type_3"] == 1.0
    assert _context(understand("podcasts", gazetteer))["intent_type_other"] == 1.0


def test_a_films_catalog_s_type_word_is_its_main_type():
    from ltrr_opensearch.catalog.description import load_description

    rows = [{"id": f"m{i}", "entity_type": "movie", "title": f"Film {i}"} for i in range(3)]
    rows.append({"id": "s1", "entity_type": "tv_series", "title": "A Show"})
    gazetteer = Gazetteer.from_rows(rows, load_description("films"))
    ctx = _context(understand("movies", gazetteer))
    assert ctx["intent_type_1"] == 1.0 and ctx["slots_type"] == 0.5
    assert _context(understand("tv series", gazetteer))["intent_type_2"] == 1.0


def test_exact_title_marks_a_query_that_is_a_catalog_title(gazetteer):
    assert _context(understand("Love Story", gazetteer))["exact_title"] == 1.0
    assert _context(understand("taylor swift", gazetteer))["exact_title"] == 1.0  # an artist
    assert _context(understand("love story remix", gazetteer))["exact_title"] == 0.0
    assert _context(understand("story", gazetteer))["exact_title"] == 0.0


def test_memory_available_says_whether_the_memory_holds_the_query_s_key(gazetteer):
    keys = {q2e_key("headbanging")}
    assert _context(understand("Headbanging!", gazetteer, memory_keys=keys))[
        "memory_available"] == 1.0
    assert _context(understand("rock", gazetteer, memory_keys=keys))["memory_available"] == 0.0
    assert _context(understand("?!", gazetteer, memory_keys=keys))["memory_available"] == 0.0
    assert _context(understand("headbanging", gazetteer))["memory_available"] == 0.0


def test_user_features_are_appended_under_declared_names(gazetteer):
    spec = ContextSpec(user_features=("premium", "age_18_24"))
    ctx = understand("rock", gazetteer, now=NOON_SATURDAY, spec=spec,
                     user_features={"premium": 1.0}).context
    assert ctx.names[-2:] == ("user.premium", "user.age_18_24")
    assert ctx.values[-2:] == (1.0, 0.0)
    assert ctx.version != CONTEXT_VERSION and ctx.version.startswith(CONTEXT_VERSION)
    spec.check(ctx)


def test_unknown_user_feature_is_an_error_naming_it(gazetteer):
    spec = ContextSpec(user_features=("premium",))
    with pytest.raises(ValueError, match="'country_fr'"):
        understand("rock", gazetteer, spec=spec, user_features={"country_fr": 1.0})
    with pytest.raises(ValueError, match="'premium'"):
        understand("rock", gazetteer, user_features={"premium": 1.0})


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "1", None, True])
def test_user_feature_values_must_be_finite_numbers(gazetteer, bad):
    spec = ContextSpec(user_features=("premium",))
    with pytest.raises(ValueError, match="premium"):
        understand("rock", gazetteer, spec=spec, user_features={"premium": bad})


def test_context_spec_rejects_duplicate_or_empty_names():
    with pytest.raises(ValueError, match="twice"):
        ContextSpec(user_features=("a", "a"))
    with pytest.raises(ValueError, match="non-empty"):
        ContextSpec(user_features=("",))


def test_spec_check_refuses_a_vector_of_another_layout(gazetteer):
    ctx = understand("rock", gazetteer, now=NOON_SATURDAY).context
    ContextSpec().check(ctx)
    with pytest.raises(ValueError, match="does not match"):
        ContextSpec(user_features=("premium",)).check(ctx)


def test_different_user_feature_declarations_have_different_versions():
    assert ContextSpec(user_features=("a", "b")).version != ContextSpec(
        user_features=("b", "a")).version


# -- understand ------------------------------------------------------------------------


def test_understand_is_deterministic(gazetteer):
    first = understand("Tayler Swiftt 90s rok songs", gazetteer, now=NOON_SATURDAY)
    rebuilt = Gazetteer.from_rows(list(reversed(ROWS)))
    second = understand("Tayler Swiftt 90s rok songs", rebuilt, now=NOON_SATURDAY)
    assert first == second


def test_understand_keeps_raw_and_normalised_text(gazetteer):
    u = understand("  Beyoncé SONGS!", gazetteer, now=NOON_SATURDAY)
    assert u.raw == "  Beyoncé SONGS!" and u.normalized == "beyonce songs"
    assert u.tokens == ("beyonce", "songs")
    assert u.intent == "track" and u.intent_confidence == pytest.approx(0.9)


def test_understand_an_empty_query(gazetteer):
    u = understand("   ", gazetteer, now=NOON_SATURDAY)
    assert u.tokens == () and u.slots == () and u.intent is None
    assert len(u.context.values) == len(CONTEXT_NAMES)


def test_understand_defaults_to_the_current_time(gazetteer):
    assert len(understand("rock", gazetteer).context.values) == len(CONTEXT_NAMES)


def _field(u, name: str) -> float:
    return u.context.values[u.context.names.index(name)]


def _context(u) -> dict[str, float]:
    return dict(zip(u.context.names, u.context.values, strict=True))


def test_known_word_fraction_tells_catalog_words_from_slang(gazetteer):
    title = ROWS[0]["title"]
    assert _field(understand(title, gazetteer), "known_word_fraction") == 1.0
    assert _field(understand("zorbly flimbo bangers", gazetteer), "known_word_fraction") == 0.0


def test_recency_cue_marks_queries_asking_for_something_new(gazetteer):
    assert _field(understand("new rock releases", gazetteer), "recency_cue") == 1.0
    assert _field(understand("rock classics", gazetteer), "recency_cue") == 0.0
