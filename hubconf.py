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


def _entry(name: str):
    def load(**kwargs):
        return _stylenet.load(name, **kwargs)

    card = _stylenet.available_styles()[name].card
    title = card.get("style_image", {}).get("title") or ", ".join(card.get("styles", {}))
    load.__name__ = name
    load.__doc__ = f"The shipped style {name!r}: {title}."
    return load


for _name, _entry_style in _stylenet.available_styles().items():
    if _entry_style.origin == "package":
        globals()[_name] = _entry(_name)
