"""Feedback loop: UBI query/event logs, durable ingestion, consumers (bandit rewards, Q2E
memory, LTR training rows) and cold-start Q2E seeding. See docs/feedback.md."""

from ltrr_opensearch.feedback.consumers import ConsumerRun, run_consumers
from ltrr_opensearch.feedback.ingest import IngestReport, ingest_events
from ltrr_opensearch.feedback.querylog import ArmLog, SearchRecord, log_search, query_doc
from ltrr_opensearch.feedback.seed import predicted_queries, seed_memory

__all__ = [
    "ArmLog", "ConsumerRun", "IngestReport", "SearchRecord", "ingest_events", "log_search",
    "predicted_queries", "query_doc", "run_consumers", "seed_memory",
]
