"""A deterministic provider that needs no cloud, no downloads and no GPU.

It is not a language model and says so: every result is labelled with model ``offline``.
"""
