"""stylenet: fast feed-forward neural style transfer (Johnson et al. 2016).

import stylenet
net = stylenet.load("mosaic")                    # a shipped style, an installed one, or a file
out = stylenet.stylize("photo.jpg", "mosaic")    # a PIL image the size of the photo
out = stylenet.stylize("photo.jpg", style_image="painting.jpg", network="adain.safetensors")  # any painting
#   (network= an AdaIN decoder or a style predictor, stylenet.load_predictor)
stylenet.stylize_video("clip.mp4", "out.mp4", "mosaic")  # needs the [video] extra
stylenet.available_styles()                      # {name: Style(..., card={...})}
"""

from .errors import StylenetError
from .infer.stylize import stylize
from .model.adain import AdaINNet, load_adain
from .model.predictor import StylePredictor, load_predictor
from .model.transformer import TransformerNet
from .styles.install import install
from .styles.load import load
from .styles.registry import available_styles, register_style
from .video.stylize import stylize_video  # PyAV is imported only when a clip is opened

__version__ = "0.1.0"
__all__ = [
    "AdaINNet",
    "StylePredictor",
    "StylenetError",
    "TransformerNet",
    "available_styles",
    "install",
    "load_adain",
    "load_predictor",
    "load",
    "register_style",
    "stylize",
    "stylize_video",
    "__version__",
]
