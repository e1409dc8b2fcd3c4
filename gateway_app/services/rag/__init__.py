"""RAG modules: configuration, retrieval and grounded answers with citations."""
