"""Query normalisation, shared by query understanding and the Q2E memory.

``normalize_query`` turns what a user typed into the canonical form every other stage
compares against: catalog values in the gazetteer, Q2E memory keys, logged queries.
``q2e_key`` turns that form into a feature name under the catalog's ``q2e``
``rank_features`` field.
"""

from __future__ import annotations

import hashlib
import re
import string
import unicodedata

MAX_QUERY_CHARS = 512
"""Normalised queries are cut (at a word boundary when possible) to this many characters."""

Q2E_SLUG_CHARS = 60
"""The readable part of a Q2E key is at most this long; a hash suffix may follow."""

# Apostrophes join rather than split: "'90s" -> "90s", "guns n' roses" -> "guns n roses".
_APOSTROPHES = "'`\u00b4\u2018\u2019\u02bc\u02b9"
# Letters NFKD does not decompose into a base letter plus marks.
_LETTER_FOLDS = {
    "\u00e6": "ae", "\u0153": "oe", "\u00f8": "o", "\u0111": "d", "\u00f0": "d",
    "\u00fe": "th", "\u0142": "l", "\u0131": "i", "\u0127": "h", "\u0167": "t",
    "\u0140": "l", "\u0138": "k",
}
# Punctuation that the standard tokenizer (Unicode word boundaries, UAX #29) keeps inside a
# word, and so the catalog's indexed tokens keep: a dot between letters or between digits
# ("a.e", "u.s.a", "1.5"), a colon between letters ("re:zero"), a comma between digits
# ("1,000"). Elsewhere these are separators like any other punctuation.
_INNER = ".:,"
_ASCII_TABLE = str.maketrans(
    {c: ("" if c in _APOSTROPHES else " ") for c in string.punctuation if c not in _INNER}
    | {chr(c): " " for c in (*range(32), 127)}  # control characters separate words
)
# Combining marks are dropped only after Latin, Greek and Cyrillic letters (accents); in
# other scripts (kana voicing marks, Indic vowel signs) they carry meaning and are kept.
_STRIP_MARKS_BELOW = 0x0530
_SLUG_JUNK = re.compile(r"[^a-z0-9_]+")
_MULTI_UNDERSCORE = re.compile(r"_{2,}")


def normalize_query(text: str) -> str:
    """The canonical form of a query or catalog value.

    Lower-cased (``casefold``: "ß" -> "ss"), accents removed ("Beyoncé" -> "beyonce"),
    compatibility forms unified (NFKD: full-width letters, ligatures), apostrophes
    dropped, punctuation that carries meaning inside a word kept as the catalog's
    analyzers keep it (the dots of "Titan A.E." -> "titan a.e", "1.5", "1,000"; see
    :data:`_INNER`), any other punctuation or symbol turned into a space, whitespace
    collapsed.
    Letters and digits of every script are kept. Deterministic and idempotent. Input
    longer than :data:`MAX_QUERY_CHARS` is cut rather than rejected.
    """
    if not isinstance(text, str):
        raise TypeError(f"query must be a str, got {type(text).__name__}")
    text = text[: MAX_QUERY_CHARS * 4]  # bound the work before NFKD can expand it
    folded = text.lower().translate(_ASCII_TABLE) if text.isascii() else _fold_unicode(text)
    out = " ".join(_inner_punctuation(folded).split())
    if len(out) > MAX_QUERY_CHARS:
        cut = out[: MAX_QUERY_CHARS + 1]
        space = cut.rfind(" ")
        out = cut[:space] if space > 0 else cut[:MAX_QUERY_CHARS]
    return out


def _fold_unicode(text: str) -> str:
    chars: list[str] = []
    base_is_latinish = False
    # NFKD both sides of casefold: compatibility forms can decompose to capitals ("𝕊").
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    for ch in decomposed:
        if unicodedata.combining(ch):
            if not base_is_latinish:
                chars.append(ch)
            continue
        if ch in _APOSTROPHES:
            continue
        folded = _LETTER_FOLDS.get(ch)
        if folded is not None:
            chars.append(folded)
            base_is_latinish = True
            continue
        category = unicodedata.category(ch)
        if category[0] in "LNM" or ch in _INNER:
            chars.append(ch)
            base_is_latinish = ord(ch) < _STRIP_MARKS_BELOW
        else:
            chars.append(" ")
            base_is_latinish = False
    return unicodedata.normalize("NFC", "".join(chars))


def _inner_punctuation(folded: str) -> str:
    """Keep each of :data:`_INNER` only where a word-boundary tokenizer keeps it: a dot
    between two letters or two digits, a colon between letters, a comma between digits."""
    if not any(c in folded for c in _INNER):
        return folded
    chars = list(folded)
    last = len(chars) - 1
    for i, ch in enumerate(chars):
        if ch not in _INNER:
            continue
        before = chars[i - 1] if i > 0 else " "
        after = folded[i + 1] if i < last else " "
        letters = before.isalpha() and after.isalpha()
        digits = before.isdigit() and after.isdigit()
        keep = (letters or digits) if ch == "." else letters if ch == ":" else digits
        if not keep:
            chars[i] = " "
    return "".join(chars)


def q2e_key(normalized: str) -> str:
    """The feature name for a normalised query under the catalog's ``q2e`` field.

    Rule (``text`` is ``normalize_query(normalized)``, a no-op for normalised input):

    * the slug is ``text`` with spaces turned into ``_`` and only ``[a-z0-9_]`` kept,
      runs of ``_`` collapsed, no ``_`` at either end, at most :data:`Q2E_SLUG_CHARS`;
    * if the slug is the whole text (plain ASCII, short enough) it is the key:
      ``"taylor swift"`` -> ``"taylor_swift"``;
    * otherwise (other scripts dropped, or cut short) the key is
      ``slug + "__" + sha1(text)[:10]``: ``"東京"`` -> ``"__<10 hex>"``.

    A lossless slug never contains ``"__"``, so a hashed key can never equal a plain one,
    and two different texts share a hashed key only if 40 bits of SHA-1 collide. Keys
    never contain dots (they would read as sub-fields) and are never empty.

    Raises ``ValueError`` for a query with nothing left after normalisation.
    """
    text = normalize_query(normalized)
    if not text:
        raise ValueError(f"query {normalized!r} is empty after normalisation; it has no Q2E key")
    spaced = text.replace(" ", "_")
    slug = _MULTI_UNDERSCORE.sub("_", _SLUG_JUNK.sub("", spaced)).strip("_")
    slug = slug[:Q2E_SLUG_CHARS].rstrip("_")
    if slug == spaced:
        return slug
    digest = hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()[:10]
    return f"{slug}__{digest}"
