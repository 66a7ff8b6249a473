"""HF fixtures (filled in below)."""


def build(out, texts):
    pass
