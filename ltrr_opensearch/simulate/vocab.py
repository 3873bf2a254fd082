"""Word lists the simulated music world is built from (written for this project, no downloads).

Two vocabularies are kept apart on purpose:

* **catalog words** appear in titles, names and descriptions;
* **query-only words** (topic synonyms, slang head phrases, query frames) never appear in the
  catalog, so a paraphrase query can only be answered by a model that knows synonyms
  (k-NN) or by memory of past clicks (Q2E), not by BM25. ``tests/test_simulate_world.py``
  checks the separation over a generated catalog.
"""

from __future__ import annotations

from dataclasses import dataclass

GENRES: tuple[str, ...] = (
    "rock", "pop", "hip hop", "electronic", "jazz", "indie", "r&b", "country", "metal",
    "classical", "folk", "latin", "soul", "blues", "reggae", "punk", "funk", "ambient",
    "house", "k-pop",
)
PODCAST_GENRES: tuple[str, ...] = (
    "true crime", "science", "history", "business", "comedy", "health", "news", "society",
)
MOODS: tuple[str, ...] = (
    "chill", "happy", "sad", "energetic", "romantic", "dark", "uplifting", "melancholic",
    "aggressive", "dreamy", "peaceful", "groovy",
)
# ISO 639-1 code -> the adjective a user types ("spanish pop").
LANGUAGES: dict[str, str] = {
    "en": "english", "es": "spanish", "pt": "portuguese", "fr": "french", "de": "german",
    "ja": "japanese", "ko": "korean", "it": "italian", "sv": "swedish",
}
# Genres whose language is mostly fixed, so "k-pop" is Korean and "latin" Spanish/Portuguese.
GENRE_LANGUAGE: dict[str, str] = {"k-pop": "ko", "latin": "es"}


@dataclass(frozen=True)
class Topic:
    """A theme: ``describe`` words go into descriptions and titles, ``ask`` words into queries.

    The two sets are real synonyms of each other but share no word (nor a stem).
    """

    name: str
    describe: tuple[str, ...]
    ask: tuple[str, ...]
    kind: str  # "music" (tracks, albums, playlists) or "podcast"
    hours: tuple[int, ...] = ()  # hours of day when users ask for it more often


TOPICS: tuple[Topic, ...] = (
    Topic("sleep", ("sleep", "bedtime", "lullaby"),
          ("slumber", "drowsy", "snooze", "nap", "doze"), "music", (21, 22, 23, 0, 1)),
    Topic("workout", ("gym", "training", "exercise"),
          ("workout", "fitness", "cardio", "weightlifting", "sweat"), "music", (6, 7, 17, 18)),
    Topic("focus", ("study", "concentration", "focus"),
          ("homework", "exam", "cram", "productivity"), "music", (9, 10, 14, 15, 20)),
    Topic("party", ("party", "celebration", "dancefloor"),
          ("fiesta", "rave", "shindig", "clubbing", "bash"), "music", (20, 21, 22, 23)),
    Topic("love", ("love", "romance", "devotion"),
          ("valentine", "sweetheart", "crush", "affection", "smitten"), "music", (20, 21)),
    Topic("heartbreak", ("heartbreak", "breakup", "loss"),
          ("heartache", "dumped", "grieving", "sorrow", "parting"), "music", (22, 23)),
    Topic("roadtrip", ("road trip", "highway", "journey"),
          ("driving", "cruising", "motorway", "carpool"), "music", (8, 16, 17)),
    Topic("rain", ("rain", "storm", "grey skies"),
          ("drizzle", "downpour", "thunder", "overcast", "showers"), "music", ()),
    Topic("summer", ("summer", "sunshine", "beach"),
          ("seaside", "poolside", "heatwave", "tropical", "vacation"), "music", (12, 13, 14)),
    Topic("morning", ("morning", "sunrise", "wake up"),
          ("breakfast", "dawn", "daybreak", "coffee"), "music", (6, 7, 8)),
    Topic("relax", ("relaxation", "unwind", "serenity"),
          ("decompress", "destress", "tranquil", "soothing", "mellow"), "music", (19, 20)),
    Topic("cooking", ("cooking", "kitchen", "dinner"),
          ("recipe", "baking", "chef", "cuisine"), "music", (18, 19)),
    Topic("meditation", ("meditation", "mindfulness", "breathing"),
          ("zen", "yoga", "contemplation", "stillness"), "music", (6, 7, 21)),
    Topic("gaming", ("gaming", "video games", "arcade"),
          ("esports", "console", "speedrun", "joystick"), "music", (16, 17, 22)),
    Topic("holiday", ("christmas", "holiday", "festive"),
          ("xmas", "yuletide", "noel", "santa"), "music", ()),
    Topic("crime", ("crime", "murder", "detective"),
          ("homicide", "investigation", "sleuth", "forensic"), "podcast", ()),
    Topic("science", ("science", "research", "discovery"),
          ("physics", "biology", "experiments", "laboratory"), "podcast", ()),
    Topic("money", ("business", "startup", "entrepreneur"),
          ("finance", "investing", "founder", "economy"), "podcast", ()),
    Topic("wellness", ("health", "wellness", "nutrition"),
          ("diet", "medicine", "doctor", "vitamins"), "podcast", ()),
    Topic("past", ("history", "ancient", "empires"),
          ("medieval", "archaeology", "pharaohs", "civilisations"), "podcast", ()),
)
MUSIC_TOPICS = tuple(t for t in TOPICS if t.kind == "music")
PODCAST_TOPICS = tuple(t for t in TOPICS if t.kind == "podcast")

# Query frames for topic (paraphrase) queries; "{a}"/"{b}" are ask-words. Their other words
# are query-only too, so a topic query shares no word with any description.
MUSIC_TOPIC_FRAMES: tuple[str, ...] = (
    "{a} music", "songs for {a}", "{a} {b} tunes", "something for {a}", "{a} vibes",
    "tunes to {a} to", "{a} songs",
)
PODCAST_TOPIC_FRAMES: tuple[str, ...] = (
    "podcast about {a}", "{a} podcast", "{a} and {b} podcasts", "listen to {a} talk",
)

# Popular slang queries that name nothing in the catalog; each is tied to one playlist when
# the world is generated. Only click memory (Q2E) can learn them.
HEAD_PHRASES: tuple[str, ...] = (
    "workout bangers", "beast mode", "main character energy", "vibe check",
    "certified bops", "throwback jams", "pregame hype", "no skips", "sunday scaries",
    "big feels", "caffeine rush", "hype squad",
)

NEW_RELEASE_FRAMES: tuple[str, ...] = (
    "new {g} releases", "latest {g}", "new {g} music", "{g} new releases", "brand new {g}",
)

ADJECTIVES: tuple[str, ...] = (
    "Silver", "Golden", "Electric", "Broken", "Hidden", "Velvet", "Neon", "Wild", "Crimson",
    "Lonely", "Paper", "Frozen", "Burning", "Quiet", "Endless", "Hollow", "Bright", "Distant",
    "Secret", "Sweet", "Bitter", "Little", "Cosmic", "Lucky", "Blue", "Scarlet", "Wandering",
    "Restless", "Gentle", "Savage", "Faded", "Glass", "Iron", "Crystal", "Static", "Northern",
    "Southern", "Violet", "Amber", "Ivory", "Copper", "Magnetic", "Radiant", "Fragile",
    "Tender", "Reckless", "Silent", "Shining", "Falling", "Rising", "Sacred", "Lost", "Open",
    "Heavy", "Hazy", "Crooked", "Perfect", "Modern", "Empty", "Purple", "Emerald",
    "Midnight", "Strange", "Brave", "Gilded", "Shattered", "Liquid", "Hungry", "Painted",
    "Sleepless", "Careless", "Tired", "Young", "Fading", "Cold", "Warm", "Infinite", "Rusty",
)
NOUNS: tuple[str, ...] = (
    "Heart", "River", "Fire", "Ocean", "Mountain", "Shadow", "Dream", "Garden", "Mirror",
    "City", "Star", "Moon", "Sky", "Window", "Door", "Letter", "Promise", "Ghost", "Echo",
    "Wave", "Flame", "Horizon", "Valley", "Island", "Desert", "Forest", "Harbor", "Lantern",
    "Machine", "Signal", "Satellite", "Engine", "Compass", "Anchor", "Feather", "Rose",
    "Thorn", "Crown", "Kingdom", "Empire", "Paradise", "Canyon", "Meadow", "Glacier",
    "Tide", "Current", "Orbit", "Planet", "Comet", "Galaxy", "Whisper", "Silence", "Firebird",
    "Diamond", "Pearl", "Velvet", "Cathedral", "Bridge", "Tower", "Street", "Avenue",
    "Boulevard", "Alley", "Rooftop", "Balcony", "Station", "Platform", "Carousel", "Circus",
    "Lighthouse", "Hurricane", "Tornado", "Blizzard", "Wildfire", "Sunset", "Twilight",
    "Daylight", "Memory", "Stranger", "Wanderer", "Hero", "Angel", "Devil", "Saint",
    "Sinner", "Pilot", "Sailor", "Dancer", "Runner", "Ember", "Cinder", "Marble", "Granite",
)
PLURAL_NOUNS: tuple[str, ...] = (
    "Wolves", "Foxes", "Ravens", "Tigers", "Lions", "Pilots", "Strangers", "Kings", "Queens",
    "Saints", "Ghosts", "Echoes", "Riders", "Dreamers", "Machines", "Rebels", "Sparrows",
    "Owls", "Comets", "Lanterns", "Arrows", "Giants", "Horses", "Pirates", "Wizards",
    "Prophets", "Outlaws", "Drifters", "Engines", "Mirrors", "Satellites", "Shadows",
    "Sisters", "Brothers", "Daughters", "Animals", "Hearts", "Roses", "Bandits", "Monarchs",
)
VERBS: tuple[str, ...] = (
    "Chasing", "Dancing", "Waiting", "Running", "Dreaming", "Holding", "Breaking", "Burning",
    "Calling", "Finding", "Losing", "Leaving", "Crossing", "Catching", "Painting", "Counting",
    "Following", "Drifting", "Climbing", "Singing",
)
FIRST_NAMES: tuple[str, ...] = (
    "Ava", "Liam", "Maya", "Noah", "Lucia", "Mateo", "Sofia", "Elias", "Nora", "Hugo",
    "Ines", "Oscar", "Freya", "Leo", "Amara", "Jonas", "Clara", "Rafael", "Yuki", "Kenji",
    "Min-jun", "Seo-yeon", "Aiko", "Lars", "Astrid", "Pierre", "Camille", "Giulia",
    "Marco", "Joao", "Beatriz", "Diego", "Valentina", "Omar", "Layla", "Felix", "Greta",
    "Isaac", "Ruby", "Theo", "Iris", "Milo", "Hazel", "Ezra", "Lena", "Silas", "Zara",
    "Otis", "Mina", "Jasper", "Celeste", "Rowan", "Esme", "Dante", "Alma", "Nico", "Vera",
)
LAST_NAMES: tuple[str, ...] = (
    "Rivera", "Okafor", "Lindqvist", "Moreau", "Tanaka", "Kim", "Park", "Rossi", "Santos",
    "Schneider", "Novak", "Costa", "Haddad", "Nakamura", "Fischer", "Dubois", "Bianchi",
    "Silva", "Kowalski", "Andersen", "Berg", "Castillo", "Delgado", "Ferreira", "Garcia",
    "Hughes", "Ivanova", "Jensen", "Kaplan", "Larsen", "Mendes", "Nilsson", "Ortega",
    "Petrov", "Quinn", "Romero", "Sato", "Torres", "Umar", "Vargas", "Weber", "Young",
    "Zhang", "Abbott", "Blake", "Carter", "Dalton", "Ellis", "Foster", "Grant", "Hayes",
    "Irving", "Jordan", "Keller", "Lowe", "Monroe", "Nash", "Osborne", "Pike", "Reyes",
)
PLAYLIST_SUFFIXES: tuple[str, ...] = ("Mix", "Essentials", "Hits", "Classics", "Selection")
PODCAST_SUFFIXES: tuple[str, ...] = ("Hour", "Files", "Hour", "Diaries", "Chronicles", "Report")

DEVICES: tuple[str, ...] = ("mobile", "desktop", "smart_speaker", "tv")
