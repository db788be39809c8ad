"""torch.hub entry points: ``torch.hub.load(repo_or_dir, "mosaic")`` returns that style's network.

Every style shipped in stylenet/styles is an entry (a ``TransformerNet`` in eval mode,
verified by SHA-256, with its model card as ``.card``), and ``style(name_or_mix)``
takes any name ``stylenet.load`` accepts, or a mix such as ``"mosaic:0.7,udnie:0.3"``.
"""

dependencies = ["torch", "safetensors", "PIL", "numpy"]

import stylenet as _stylenet  # noqa: E402


def style(name: str = "mosaic", **kwargs):
    """A style network by name, weights file or mix (``stylenet.load``'s arguments)."""
    return _stylenet.load(name, **kwargs)


def _entry(name: str, card: dict):
    def load(**kwargs):
        return _stylenet.load(name, **kwargs)

    title = card.get("style_image", {}).get("title") or ", ".join(card.get("styles", {}))
    load.__name__ = name
    load.__doc__ = f"The shipped style {name!r}: {title}."
    return load


def _entries() -> dict:
    """An entry per shipped style (one scan of the registry), except names that are not identifiers or
    that this module already uses (``style``, ``dependencies``): ``style(name)`` loads those."""
    import keyword

    taken = set(globals())
    return {
        name: _entry(name, s.card)
        for name, s in _stylenet.available_styles().items()
        if s.origin == "package" and name.isidentifier() and not keyword.iskeyword(name) and name not in taken
    }


globals().update(_entries())
