"""LangChain's tutorial RAG recipe, as the baseline `eval/bench.py` compares us against.

What the tutorial does, and nothing more: load the raw files (no cleaning), split them with
`RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200, add_start_index=True)`,
embed the chunks into a FAISS vector store, and answer a query with
`similarity_search(query, k)`. The only change is the embedding model: it is our already
loaded MiniLM wrapped as LangChain `Embeddings` (`HuggingFaceEmbeddings` would try the hub),
so both systems embed with the same weights and only the recipe around them differs.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_text_splitters import RecursiveCharacterTextSplitter

from rag.embeddings import Embedder
from rag.evaluation.metrics import Retrieved

with warnings.catch_warnings():
    # langchain-community announces its own sunset on import; the tutorial still uses it.
    warnings.simplefilter("ignore", DeprecationWarning)
    from langchain_community.vectorstores import FAISS

CHUNK_SIZE = 1000
CHUNK_OVERLAP = 200


class EmbedderAsLangChain(Embeddings):
    """One of our `Embedder`s seen as LangChain `Embeddings` (normalised float vectors)."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [[float(x) for x in row] for row in self.embedder.embed(texts)]

    def embed_query(self, text: str) -> list[float]:
        return [float(x) for x in self.embedder.embed([text])[0]]


@dataclass
class Recipe:
    """The built recipe: its vector store plus the raw texts, to score retrieved chunks."""

    store: FAISS
    texts: dict[str, str]  # source path -> raw file text
    documents: int
    chunks: list[Document]
    build_seconds: float

    def search(self, query: str, k: int) -> list[Document]:
        return self.store.similarity_search(query, k=k)

    def retrieve(self, query: str, k: int) -> list[Retrieved]:
        """The top-k chunks as the evaluation metrics see them (span in the raw file)."""
        return [as_retrieved(chunk) for chunk in self.search(query, k)]


def load_raw(paths: Sequence[Path]) -> list[Document]:
    """The tutorial's loader step: each file's text as is, with its path as `source`."""
    return [
        Document(page_content=path.read_text(encoding="utf-8"), metadata={"source": str(path)})
        for path in paths
    ]


def split(documents: Sequence[Document]) -> list[Document]:
    """The tutorial's splitter; each chunk also gets its position within its file."""
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP, add_start_index=True
    )
    chunks = splitter.split_documents(list(documents))
    seen: dict[str, int] = {}
    for chunk in chunks:
        source = chunk.metadata["source"]
        chunk.metadata["chunk_index"] = seen.get(source, 0)
        seen[source] = seen.get(source, 0) + 1
    return chunks


def as_retrieved(chunk: Document) -> Retrieved:
    start = int(chunk.metadata["start_index"])
    return Retrieved(
        doc_id=chunk.metadata["source"],
        index=int(chunk.metadata["chunk_index"]),
        text=chunk.page_content,
        start=start,
        end=start + len(chunk.page_content),
    )


def build(corpus: Path, embedder: Embedder) -> Recipe:
    """Load, split, embed and index `corpus/*.txt`; the returned time covers all of it."""
    started = time.perf_counter()
    documents = load_raw(sorted(corpus.glob("*.txt")))
    chunks = split(documents)
    store = FAISS.from_documents(chunks, EmbedderAsLangChain(embedder))
    seconds = time.perf_counter() - started
    texts = {d.metadata["source"]: d.page_content for d in documents}
    return Recipe(store, texts, len(documents), chunks, seconds)
