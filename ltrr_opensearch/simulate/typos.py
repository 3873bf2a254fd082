"""Realistic typing mistakes for known-item queries.

Four kinds, each one edit: a QWERTY keyboard-neighbour substitution, a dropped letter, two
adjacent letters swapped, and a doubled letter. Edits only touch letters inside words of four
or more letters (people rarely misspell "the"), so a typo stays within edit distance 1 of the
word it came from and fuzzy matching can undo it.
"""

from __future__ import annotations

import numpy as np

_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _neighbours() -> dict[str, str]:
    where = {ch: (r, c) for r, row in enumerate(_ROWS) for c, ch in enumerate(row)}
    out: dict[str, str] = {}
    for ch, (r, c) in where.items():
        near = []
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                if (dr, dc) == (0, 0):
                    continue
                rr, cc = r + dr, c + dc
                if 0 <= rr < len(_ROWS) and 0 <= cc < len(_ROWS[rr]):
                    near.append(_ROWS[rr][cc])
        out[ch] = "".join(near)
    return out


KEYBOARD_NEIGHBOURS = _neighbours()
TYPO_KINDS = ("neighbour", "drop", "swap", "double")


def add_typo(text: str, rng: np.random.Generator,
             spare: frozenset[int] = frozenset()) -> tuple[str, str | None, int | None]:
    """``(text with one typo, kind, index of the word edited)``.

    Words whose index is in ``spare`` are left alone (so two typos never wreck one short
    word); ``(text, None, None)`` when no word may be edited.
    """
    words = text.split(" ")
    long_words = [i for i, w in enumerate(words)
                  if sum(ch.isalpha() for ch in w) >= 4 and i not in spare]
    if not long_words:
        return text, None, None
    w = long_words[int(rng.integers(len(long_words)))]
    word = words[w]
    # Positions of letters we may edit (not the first: people get that one right).
    spots = [i for i in range(1, len(word)) if word[i].isalpha()]
    kind = TYPO_KINDS[int(rng.integers(len(TYPO_KINDS)))]
    pos = spots[int(rng.integers(len(spots)))]
    ch = word[pos]
    if kind == "neighbour" and ch.lower() in KEYBOARD_NEIGHBOURS:
        options = KEYBOARD_NEIGHBOURS[ch.lower()]
        new = options[int(rng.integers(len(options)))]
        word = word[:pos] + (new.upper() if ch.isupper() else new) + word[pos + 1:]
    elif kind == "swap" and pos + 1 < len(word) and word[pos + 1] != ch:
        word = word[:pos] + word[pos + 1] + ch + word[pos + 2:]
    elif kind == "double":
        word = word[:pos] + ch + word[pos:]
    else:  # "drop", and the fallback when another kind does not apply here
        kind = "drop"
        word = word[:pos] + word[pos + 1:]
    words[w] = word
    return " ".join(words), kind, w
