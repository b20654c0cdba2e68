"""Embedding a whole table as a batch job, on this machine or on a Ray cluster (``amplio embed``)."""
