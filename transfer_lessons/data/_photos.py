"""Real photos that ship inside scikit-image (the ``course`` extra) and matplotlib, so lesson 00 needs no download."""

from __future__ import annotations

import matplotlib.cbook
from PIL import Image

from ..errors import UnknownName
from ..runtime import require

SAMPLE_PHOTOS = {  # name -> (library, what it shows)
    "chelsea": ("scikit-image", "a tabby cat"),
    "coffee": ("scikit-image", "a cup of coffee"),
    "rocket": ("scikit-image", "a rocket on its launch pad"),
    "astronaut": ("scikit-image", "astronaut Eileen Collins"),
    "grace_hopper": ("matplotlib", "Rear Admiral Grace Hopper in uniform"),
}


def sample_photo(name: str):
    """One of ``SAMPLE_PHOTOS`` as an RGB PIL image, read from the installed package (MissingExtra: no scikit-image)."""
    if name not in SAMPLE_PHOTOS:
        raise UnknownName("sample photo", name, SAMPLE_PHOTOS, "transfer_lessons.data.SAMPLE_PHOTOS")
    if SAMPLE_PHOTOS[name][0] == "matplotlib":
        with matplotlib.cbook.get_sample_data(f"{name}.jpg") as handle:
            return Image.open(handle).convert("RGB")
    data = require("skimage.data", "course", f"the sample photo {name!r}")
    return Image.fromarray(getattr(data, name)()).convert("RGB")

