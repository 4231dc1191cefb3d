"""Our hybrid retriever as a LangChain `BaseRetriever`, alone and inside an LCEL chain."""

from __future__ import annotations

from typing import Any

from langchain_core.documents import Document as LangChainDocument
from langchain_core.messages import AIMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompt_values import PromptValue
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableLambda, RunnablePassthrough

from rag.assistant import Assistant
from rag.retrieval import Filters

QUESTION = "Where did Ilham Aliyev and Nikol Pashinyan hold a five-hour meeting in July 2025?"
METADATA_KEYS = {"chunk_id", "doc_id", "title", "author", "url", "start", "end"}

PROMPT = ChatPromptTemplate.from_messages(
    [
        ("system", "Answer only from the context.\n<context>\n{context}\n</context>"),
        ("human", "{question}"),
    ]
)


def format_docs(documents: list[LangChainDocument]) -> str:
    return "\n\n".join(
        f"[{n}] {d.metadata['author'] or 'unknown'}: {d.page_content}"
        for n, d in enumerate(documents, 1)
    )


def test_is_a_langchain_retriever_returning_spans(demo_assistant: Assistant) -> None:
    retriever = demo_assistant.as_langchain_retriever(k=3)
    assert isinstance(retriever, BaseRetriever)
    documents = retriever.invoke(QUESTION)
    assert len(documents) == 3
    assert all(isinstance(d, LangChainDocument) for d in documents)
    index_documents = demo_assistant.index.documents
    for rank, document in enumerate(documents, 1):
        meta = document.metadata
        assert set(meta) >= METADATA_KEYS
        source = index_documents[meta["doc_id"]]
        assert document.page_content == source.text[meta["start"] : meta["end"]]
        assert (meta["title"], meta["author"], meta["url"]) == (
            source.meta.title,
            source.meta.author,
            source.meta.url,
        )
        assert meta["rank"] == rank
        assert document.id == meta["chunk_id"]
    assert "Abu Dhabi" in documents[0].page_content
    # The same passages, in the same order, as our own search.
    ours = demo_assistant.search(QUESTION, k=3)
    assert [d.metadata["chunk_id"] for d in documents] == [p.chunk.chunk_id for p in ours]


def test_filters_carry_over(demo_assistant: Assistant) -> None:
    retriever = demo_assistant.as_langchain_retriever(k=2, filters=Filters(authors=("melvin",)))
    documents = retriever.invoke("Russia's role in the South Caucasus")
    assert len(documents) == 2
    assert {d.metadata["author"] for d in documents} == {"Neil Melvin"}


def test_runs_inside_an_lcel_chain(demo_assistant: Assistant) -> None:
    retriever = demo_assistant.as_langchain_retriever(k=3)
    seen: list[PromptValue] = []

    def echo_model(prompt: PromptValue) -> AIMessage:
        """A stand-in chat model: records the prompt it was given and echoes it."""
        seen.append(prompt)
        return AIMessage(content=prompt.to_string())

    chain: Any = (
        {"context": retriever | RunnableLambda(format_docs), "question": RunnablePassthrough()}
        | PROMPT
        | RunnableLambda(echo_model)
        | StrOutputParser()
    )
    output = chain.invoke(QUESTION)
    assert isinstance(output, str)
    [prompt] = seen
    messages = prompt.to_messages()
    assert [m.type for m in messages] == ["system", "human"]
    assert messages[1].content == QUESTION
    retrieved = retriever.invoke(QUESTION)
    for document in retrieved:
        assert document.page_content in messages[0].content  # the passage reached the prompt
    assert "Abu Dhabi" in output
