"""Replaying simulated searches through the real pipeline and measuring what it learned."""
