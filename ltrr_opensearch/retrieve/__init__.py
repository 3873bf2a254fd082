"""Retrieval: strategy templates rendered in a sandbox, run as one ``_msearch``, merged."""
