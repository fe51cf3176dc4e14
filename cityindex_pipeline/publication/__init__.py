"""Publication: versioned, atomic, pinned with what the month read of the month before."""
