from __future__ import annotations

import timm
import torch

from ..data import eval_transforms
from ..models import get_card
from ..speed import best_under_budget, count_flops
from ._verdict import exercise, is_number


@exercise("gflops", "a number: GFLOPs (10^9 FLOPs) of one forward pass on one image at the given side",
          nudge="count FLOPs, not multiply-adds (one multiply-add is 2 FLOPs), for one image of the asked size and "
                "this architecture (not one from the lesson's table)",
          method="build timm.create_model(name) (random weights), wrap model(torch.zeros(1, 3, S, S)) in "
                 "FlopCounterMode(display=False), S = the asked side; divide get_total_flops() by 1e9")
def check_gflops(answer, architecture: str = "efficientnet_lite3", image_size: int = 300) -> bool:
    """Exercise: GFLOPs of one forward pass of timm's ``architecture`` on one ``image_size`` image (1 %)."""
    expected = count_flops(timm.create_model(architecture, pretrained=False), image_size) / 1e9
    return is_number(answer) and abs(answer - expected) <= 0.01 * expected


def _tables() -> list[dict]:
    """The check's own tables: accuracy not rising with latency, a tie, a slow best (name -> latency, accuracy)."""
    rows = [{"a": (5.0, 0.90), "b": (9.0, 0.95), "e": (7.0, 0.95), "d": (12.0, 0.93), "c": (20.0, 0.97)},
            {"fast": (2.0, 0.99), "slow": (8.0, 0.80), "mid": (4.0, 0.85)}]
    return [{n: {"latency_ms": ms, "probe_acc": acc} for n, (ms, acc) in table.items()} for table in rows]


@exercise("budget_pick", "a function pick(table, budget_ms) -> the name of a backbone of the table, or None",
          nudge="is your pick within the budget, and is any other one within it more accurate? On a tie in accuracy, "
                "which one costs less? And what if nothing fits?",
          method="keep the rows whose latency_ms <= budget_ms; among them return the one with the highest probe_acc, "
                 "the faster of two that tie; return None when no row fits")
def check_budget_pick(answer, tables=()) -> bool:
    """Exercise: ``answer(table, budget_ms)`` picks as ``best_under_budget`` does, on the lesson's ``tables`` (a
    sequence of name -> row tables) and the check's own, at every row's latency, between them and below all."""
    for table in [*tables, *_tables()]:
        points = {name: (row["latency_ms"], row["probe_acc"]) for name, row in table.items()}
        latencies = sorted(cost for cost, _ in points.values())
        budgets = [latencies[0] / 2, *latencies, *((a + b) / 2 for a, b in zip(latencies, latencies[1:]))]
        if any(answer(dict(table), budget) != best_under_budget(points, budget) for budget in budgets):
            return False
    return True


def _test_image() -> torch.Tensor:
    """A seeded 3x300x400 uint8 image with fine detail, so a wrong resize or crop changes it."""
    rows, cols = torch.linspace(0, 1, 300)[:, None], torch.linspace(0, 1, 400)[None, :]
    stripes = (torch.sin(cols * 160) * torch.sin(rows * 90) + 1) / 2  # detail that interpolation smooths differently
    noise = 0.1 * torch.rand(3, 300, 400, generator=torch.Generator().manual_seed(0))
    image = torch.stack([rows * cols, stripes, (1 - cols).expand(300, 400)]) + noise
    return (image.clamp(0, 1) * 255).round().to(torch.uint8)


@exercise("preprocessing", "a function: uint8 [3, H, W] image -> float [3, S, S] tensor, as the backbone's card says",
          nudge="compare your output with the card's values: size, crop, interpolation, mean and std all matter",
          method="read input_size, crop_pct, interpolation, mean and std from tl.get_card(name): resize to "
                 "input_size / crop_pct, centre-crop to input_size, scale to [0, 1], normalise with its mean and std")
def check_preprocessing(answer, backbone: str = "vit_small_patch16_224") -> bool:
    """Exercise: an eval transform that matches ``backbone``'s card (a close match on a detailed image)."""
    card, image = get_card(backbone), _test_image()
    expected = eval_transforms(card.input_size, card.mean, card.std, card.interpolation, card.crop_pct)(image)
    mine = torch.as_tensor(answer(image.clone()), dtype=torch.float32)
    return mine.shape == expected.shape and (mine - expected).abs().mean().item() < 0.005  # bilinear: 0.01
