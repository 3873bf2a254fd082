"""Serving and learning as processes: ``ltrr serve`` (the HTTP API, :mod:`.app`) and
``ltrr worker`` (the feedback loop on a schedule, :mod:`.worker`)."""
