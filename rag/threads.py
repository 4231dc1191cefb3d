"""Native thread pools a question runs through. A question's matrix products are small
(hundreds of rows), and BLAS threads left spinning between them take the cores that the
embedding model and FAISS need next; FAISS's own pool is set per search (rag.vector_index)."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def limit_blas_threads(threads: int) -> None:
    """Cap numpy's BLAS at `threads` for this process (0: leave it as it is)."""
    if threads <= 0:
        return
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads, user_api="blas")
    log.debug("BLAS limited to %d thread(s) for questions", threads)
