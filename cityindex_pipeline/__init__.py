"""cityindex: the Communication Impact Index on Overseas Social Media of 133 Chinese cities."""

PLATFORMS: tuple[str, ...] = ("facebook", "x", "instagram", "youtube")

__all__ = ["PLATFORMS"]
