"""The paddle plug-in (being written)."""
