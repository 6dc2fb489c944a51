"""`flask credit demo-data` (to be written)."""


def register(group) -> None:
    pass
