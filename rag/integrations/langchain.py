"""LangChain adapter, kept at the edge: the core never sees LangChain types, and nothing in
the core imports this module (`Assistant.as_langchain_retriever` is the entry point)."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LangChainDocument
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from rag.retrieval import Filters, Retriever
from rag.types import Passage


def passage_to_langchain(passage: Passage) -> LangChainDocument:
    chunk, meta = passage.chunk, passage.meta
    return LangChainDocument(
        page_content=chunk.text,
        id=chunk.chunk_id,
        metadata={
            "chunk_id": chunk.chunk_id,
            "doc_id": chunk.doc_id,
            "title": meta.title,
            "author": meta.author,
            "outlet": meta.outlet,
            "date": meta.date,
            "url": meta.url,
            "start": chunk.start,
            "end": chunk.end,
            "heading": chunk.heading,
            "score": passage.score,
            "rank": passage.rank,
        },
    )


class RagLangChainRetriever(BaseRetriever):
    """A `BaseRetriever` over our hybrid retriever; Documents carry source metadata and span."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    retriever: Any  # rag.retrieval.Retriever (Any: pydantic cannot validate the class)
    k: int = 5
    filters: Filters = Filters()

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[LangChainDocument]:
        retriever: Retriever = self.retriever
        passages = retriever.search(query, k=self.k, filters=self.filters)
        return [passage_to_langchain(p) for p in passages]


def as_langchain_retriever(
    retriever: Retriever, *, k: int = 5, filters: Filters = Filters()
) -> RagLangChainRetriever:
    """Our retriever as a LangChain `BaseRetriever`, for use in any LCEL chain."""
    return RagLangChainRetriever(retriever=retriever, k=k, filters=filters)
