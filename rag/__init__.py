"""Retrieval-augmented question answering with checkable citations."""
