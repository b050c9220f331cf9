"""Answering: tenant-scoped hybrid retrieval, a token-budgeted grounded prompt, checked citations."""
