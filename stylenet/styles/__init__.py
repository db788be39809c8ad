"""Named styles: the registry of shipped, installed and downloadable weights (the shipped files and
their ``index.json`` sit in this folder), installing, mixing a multi-style network's styles, loading."""
