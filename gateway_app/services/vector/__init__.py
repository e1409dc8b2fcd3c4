"""Vector stores: extraction, chunking, Chroma layer, ingestion."""
