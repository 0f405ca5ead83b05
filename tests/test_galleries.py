"""Tests for transfer_lessons.galleries: figures made of images."""

from __future__ import annotations

import pytest
import torch
from helpers import assert_labelled
from matplotlib.figure import Figure
from PIL import Image

from transfer_lessons.plots import images as show_images


def test_show_images_accepts_uint8_float_and_pil_and_denormalises():
    uint8 = torch.randint(0, 256, (5, 3, 8, 8), dtype=torch.uint8)
    fig = show_images(uint8, titles=list("abcde"), ncols=3)
    assert isinstance(fig, Figure) and len(fig.axes) == 6 and fig.get_suptitle() == "Images"
    assert [ax.get_title() for ax in fig.axes[:5]] == list("abcde")

    mean, std = [0.5, 0.5, 0.5], [0.25, 0.25, 0.25]
    normalised = (torch.full((1, 3, 4, 4), 0.75) - 0.5) / 0.25
    drawn = show_images(normalised, mean=mean, std=std).axes[0].images[0].get_array()
    assert float(drawn.max()) == pytest.approx(0.75), "normalised images were not denormalised"

    pil = [Image.new("RGB", (8, 6), (255, 0, 0)), Image.new("L", (8, 6), 128)]
    fig = show_images(pil, title="Photos")
    assert fig.get_suptitle() == "Photos" and fig.axes[0].images[0].get_array().shape == (6, 8, 3)


def test_show_images_rejects_mismatched_titles():
    with pytest.raises(ValueError, match="1 titles for 2 images"):
        show_images(torch.zeros(2, 3, 4, 4), titles=["one"])
    with pytest.raises(ValueError, match="no images"):
        show_images([])


def test_show_retrieval_colours_titles_by_class_match():
    from transfer_lessons.plots import retrieval as show_retrieval

    images = [torch.randint(0, 256, (3, 8, 10), dtype=torch.uint8) for _ in range(3)]
    fig = show_retrieval(images[:1], [images[1:]], [0], [[0, 1]], torch.tensor([[0.9, 0.5]]), ["ants", "bees"])
    assert isinstance(fig, Figure) and len(fig.axes) == 3 and fig.get_suptitle()
    titles = [ax.title for ax in fig.axes]
    assert [t.get_text() for t in titles] == ["query: ants", "ants 0.90", "bees 0.50"]
    assert titles[1].get_color() == "tab:green" and titles[2].get_color() == "tab:red"
    with pytest.raises(ValueError, match="at least one query"):
        show_retrieval([], [], [], [], [], ["a"])


def test_show_feature_map_overlays_the_map():
    from transfer_lessons.plots import feature_map as show_feature_map

    fig = show_feature_map(torch.rand(3, 32, 48), torch.rand(4, 6))
    assert_labelled(fig, 2)
    assert len(fig.axes[1].images) == 2 and fig.axes[1].get_title() == "feature map (4x6 cells)"
    assert fig._repr_png_().startswith(b"\x89PNG"), "the figure does not display itself in Jupyter"


def test_show_cam_overlays_each_heat_map_in_one_row():
    from transfer_lessons.plots import cam as show_cam

    mean, std = [0.5, 0.5, 0.5], [0.25, 0.25, 0.25]
    images = (torch.full((2, 3, 16, 12), 0.75) - 0.5) / 0.25
    fig = show_cam(images, torch.rand(2, 16, 12), titles=["ants 90%", "bees 55%"], mean=mean, std=std)
    assert isinstance(fig, Figure) and fig.get_suptitle() == "Where the model looks (Grad-CAM)"
    assert len(fig.axes) == 2 and [len(ax.images) for ax in fig.axes] == [2, 2], "image plus heat map each"
    assert [ax.get_title() for ax in fig.axes] == ["ants 90%", "bees 55%"]
    assert float(fig.axes[0].images[0].get_array().max()) == pytest.approx(0.75), "not denormalised"
    assert fig.axes[0].images[1].get_alpha() < 1, "the heat map must let the image show through"
    assert fig._repr_png_().startswith(b"\x89PNG"), "the figure does not render"
    with pytest.raises(ValueError, match="1 heat maps for 2 images"):
        show_cam(images, torch.rand(1, 16, 12))
    with pytest.raises(ValueError, match="1 titles for 2 images"):
        show_cam(images, torch.rand(2, 16, 12), titles=["one"])
