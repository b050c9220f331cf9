"""Ingestion: blobs in the documents container become tenant-scoped, embedded chunks, exactly once."""
