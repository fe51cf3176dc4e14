"""The four platforms the index covers, in the order every table and report lists them."""

PLATFORMS: tuple[str, ...] = ("facebook", "x", "instagram", "youtube")
