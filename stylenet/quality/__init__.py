"""How good and how fast: evaluation on photos and clips, reports, optimization-based style
transfer (the quality reference), and ``stylenet bench``."""
