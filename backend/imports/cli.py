"""`flask credit import FILE --department CODE` (to be written)."""


def register(group) -> None:
    pass
