"""Small interactive widgets for the lessons, each degrading to plain output when headless.

Under papermill, in CI, or without ipywidgets there is no one to move a slider, so every
widget function prints what its default state would show instead. The runner sets
``TRANSFER_LESSONS_HEADLESS=1`` for executed lessons; set it yourself to force plain output.
"""

from __future__ import annotations

import os
from typing import Iterable

__all__ = ["is_headless", "photo_picker"]


def is_headless() -> bool:
    """True when widgets cannot be used: headless run requested, or ipywidgets missing."""
    if os.environ.get("TRANSFER_LESSONS_HEADLESS", "").strip() in {"1", "true", "yes"}:
        return True
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return True
    return False


def _topk_text(model, name: str, k: int) -> str:
    from .photos import SAMPLE_PHOTOS, predict_topk

    lines = [f"{name} ({SAMPLE_PHOTOS[name][1]}):"]
    lines += [f"  {prob:6.1%}  {label}" for label, prob in predict_topk(model, _photo(name), k=k)]
    return "\n".join(lines)


def _photo(name: str):
    from .photos import sample_photo

    return sample_photo(name)


def photo_picker(model, names: Iterable[str], k: int = 5):
    """Pick a sample photo from a dropdown and see the model's ImageNet top-k beside it.

    Headless, prints the top-k of every photo instead. Returns the widget (or None).

    Used in lesson 00, *Try it yourself*.
    """
    names = list(names)
    if is_headless():
        for name in names:
            print(_topk_text(model, name, k))
        return None
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    dropdown = widgets.Dropdown(options=names, description="photo")
    output = widgets.Output()

    def show(change=None):
        output.clear_output(wait=True)
        with output:
            fig, ax = plt.subplots(figsize=(3, 3))
            ax.imshow(_photo(dropdown.value))
            ax.set_axis_off()
            plt.show()
            print(_topk_text(model, dropdown.value, k))

    dropdown.observe(show, names="value")
    show()
    box = widgets.VBox([dropdown, output])
    display(box)
    return box
