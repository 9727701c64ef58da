"""The document hub: open documents' hot state, the commit pipeline, fan-out to subscribers."""
