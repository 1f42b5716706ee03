"""The mlx plug-in (being written)."""
