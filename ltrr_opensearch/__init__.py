"""ltrr-opensearch: learning to rank *and retrieve* on OpenSearch."""

__version__ = "0.1.0"
