from __future__ import annotations

import io
import os
from typing import Iterable

import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from ..data import SAMPLE_PHOTOS, sample_photo, transforms_for
from ..errors import BadImage
from ..evaluation import filter_detections, predict_topk
from ..models import create_backbone
from ..plots import detections, feature_map, images


def is_headless() -> bool:
    """True when widgets cannot be used: ipywidgets missing, or ``TRANSFER_LESSONS_HEADLESS=1`` (no one to move a
    slider: the runner sets it for executed lessons; set it yourself to force plain output, e.g. in CI)."""
    if os.environ.get("TRANSFER_LESSONS_HEADLESS", "").strip() in {"1", "true", "yes"}:
        return True
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return True
    return False


def _live(draw, *controls):
    """Display ``controls`` (side by side) above an output area that ``draw()`` fills now and on every change."""
    import ipywidgets as widgets
    from IPython.display import display

    output = widgets.Output()

    def show(change=None):
        output.clear_output(wait=True)
        with output:
            draw()

    for control in controls:
        control.observe(show, names="value")
    show()
    box = widgets.VBox([controls[0] if len(controls) == 1 else widgets.HBox(list(controls)), output])
    display(box)
    return box


def _topk_text(header: str, pairs) -> str:
    return "\n".join([header, *(f"  {prob:6.1%}  {label}" for label, prob in pairs)])


def _photo_text(model, name: str, k: int) -> str:
    return _topk_text(f"{name} ({SAMPLE_PHOTOS[name][1]}):", predict_topk(model, sample_photo(name), k=k))


def photo_picker(model, names: Iterable[str], k: int = 5):
    """Pick a sample photo from a dropdown and see the model's ImageNet top-k beside it.

    Returns the widget, or None when headless (then the top-k of every photo is printed).
    """
    names = list(names)
    if is_headless():
        for name in names:
            print(_photo_text(model, name, k))
        return None
    import ipywidgets as widgets
    from IPython.display import display

    dropdown = widgets.Dropdown(options=names, description="photo")

    def draw():
        display(images([sample_photo(dropdown.value)], ncols=1, title=dropdown.value))
        print(_photo_text(model, dropdown.value, k))

    return _live(draw, dropdown)


def _sample_indices(labels, n: int) -> list[int]:
    """``n`` indices spread evenly over a label list (so every class shows up)."""
    step = max(1, len(labels) // max(1, n))
    return list(range(0, len(labels), step))[:n]


def _explorer_text(name: str, row, fs, probe, classes, indices) -> str:
    stats = ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items())
    predicted = probe.predict(fs.val[indices])
    lines = [f"{name}: {stats}"]
    lines += [f"  val image {i}: predicted {classes[int(p)]}, true {classes[int(fs.val_labels[i])]}"
              for i, p in zip(indices, predicted)]
    return "\n".join(lines)


def _feature_map(name: str, image, size: int):
    x = transforms_for(name, size)(image).unsqueeze(0)
    with torch.inference_mode():
        return create_backbone(name, progress=False).forward_features(x)[0].mean(dim=0)


def backbone_explorer(table, features, probes, data, n_images: int = 4):
    """Pick a backbone: its measured stats, its probe's predictions on a few val images, the first one's feature map.

    ``table``: name → measured row (latency, accuracy, ...); ``features``: name → ``FeatureSet``; ``probes``: name →
    ``LinearProbe`` trained on it; ``data``: the ``ClassificationData`` the features came from.
    Returns the widget, or None when headless (then the stats and predictions of every backbone are printed).
    """
    names = list(table)
    indices = _sample_indices(data.val.targets, n_images)
    if is_headless():
        for name in names:
            print(_explorer_text(name, table[name], features[name], probes[name], data.classes, indices))
        return None
    import ipywidgets as widgets
    from IPython.display import display

    dropdown = widgets.Dropdown(options=names, description="backbone")

    def draw():
        name = dropdown.value
        fs, probe = features[name], probes[name]
        print(_explorer_text(name, table[name], fs, probe, data.classes, indices))
        predicted = probe.predict(fs.val[indices])
        titles = [f"{data.classes[int(p)]} (true {data.classes[data.val.targets[i]]})"
                  for i, p in zip(indices, predicted)]
        display(images([data.val.cache[i] for i in indices], titles, title=f"{name}: probe predictions"))
        image = data.val.cache[indices[0]]
        display(feature_map(image, _feature_map(name, image, fs.image_size), title=f"{name}: feature map"))

    return _live(draw, dropdown)


def _uploaded_file(value):
    """(name, bytes) of the first uploaded file; ipywidgets 8 gives a tuple of dicts, 7 a dict by name."""
    entry = value[0] if isinstance(value, (tuple, list)) else next(iter(value.values()))
    return entry.get("name", "upload"), bytes(entry["content"])


def upload_predictor(loaded, fallback_image=None, k: int = 5):
    """Upload a photo and see the top classes of a model from ``load_model`` for it.

    Returns the widget (a FileUpload above an output area), or None when headless: then the top k of
    ``fallback_image``, a PIL image, are printed. An upload that cannot be decoded is reported, not raised.
    """
    if is_headless():
        if fallback_image is None:
            print("upload_predictor: no widgets here (headless), and no fallback_image to predict.")
        else:
            print(_topk_text("fallback image:", loaded.predict(fallback_image, k=k)))
        return None
    import ipywidgets as widgets

    upload = widgets.FileUpload(accept="image/*", multiple=False, description="photo")

    def draw():
        if not upload.value:
            return
        name, content = _uploaded_file(upload.value)
        try:
            # Phones store portraits sideways plus an EXIF flag; open_rgb does the same for files.
            image = ImageOps.exif_transpose(Image.open(io.BytesIO(content))).convert("RGB")
            print(_topk_text(f"{name}:", loaded.predict(image, k=k)))
        except (UnidentifiedImageError, OSError, BadImage) as err:
            print(f"Cannot read {name} as an image ({err}); upload a JPEG or PNG photo.")

    return _live(draw, upload)


def detection_explorer(image, raw: dict, objects=None, score_threshold: float = 0.5, nms_iou: float = 0.5):
    """Sliders for the score threshold and the NMS IoU redraw a detector's boxes on one image.

    ``raw``: the detector's predictions with suppression switched off (``{"boxes", "scores"}``), so the sliders can
    redo it; ``objects``: the true boxes, or None. Returns the widget, or None when headless; then the starting
    values are drawn once.
    """
    from IPython.display import display  # the kernel's, in headless runs too

    def figure(score, iou):
        kept = filter_detections(raw, score, iou)
        return detections([image], [{"boxes": objects}] if objects is not None else None, [kept], score,
                               title=f"score >= {score:.2f}, NMS IoU {iou:.2f}: {len(kept['boxes'])} boxes")

    if is_headless():
        display(figure(score_threshold, nms_iou))
        return None
    import ipywidgets as widgets

    score = widgets.FloatSlider(value=score_threshold, min=0.05, max=0.95, step=0.05, description="score ≥")
    iou = widgets.FloatSlider(value=nms_iou, min=0.1, max=1.0, step=0.05, description="NMS IoU")
    return _live(lambda: display(figure(score.value, iou.value)), score, iou)
