"""Lesson 01's checks: the right answers pass; the wrong answers a learner is likely to give get "not yet"."""

import timm
import torch
from torch.utils.flop_counter import FlopCounterMode
from torchvision.transforms import v2 as T

import transfer_lessons as tl
from transfer_lessons.speed import best_under_budget, count_flops


def _failed(verdict) -> bool:
    return not verdict and "not yet" in repr(verdict)


def test_gflops_wants_a_count_of_the_asked_architecture_and_size(isolated_assets):
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        timm.create_model("efficientnet_lite3")(torch.zeros(1, 3, 300, 300))
    right = counter.get_total_flops() / 1e9
    assert tl.exercises.check_gflops(right)
    lite1 = tl.speed.describe_backbone("efficientnet_lite1")["gflops"]  # printed in the lesson's catalog table
    wrong = {"multiply-adds": right / 2, "lite1 from the table": lite1, "a string": "2.77",
             "at 224 px": count_flops(timm.create_model("efficientnet_lite3"), 224) / 1e9}
    for why, answer in wrong.items():
        assert _failed(tl.exercises.check_gflops(answer)), why


def _pick(table, budget_ms):
    fits = {name: row for name, row in table.items() if row["latency_ms"] <= budget_ms}
    return max(fits, key=lambda n: (fits[n]["probe_acc"], -fits[n]["latency_ms"]), default=None)


LESSON_TABLE = {"efficientnet_lite0": {"latency_ms": 10.0, "probe_acc": 0.78},
                "efficientnet_lite1": {"latency_ms": 14.0, "probe_acc": 0.80},
                "efficientnet_lite2": {"latency_ms": 20.0, "probe_acc": 0.79}}


def test_budget_pick_wants_the_rule_not_a_name(isolated_assets):
    assert tl.exercises.check_budget_pick(_pick, [LESSON_TABLE])
    helper = lambda table, budget: best_under_budget(  # noqa: E731 - the helper, wrapped, is a right answer too
        {n: (r["latency_ms"], r["probe_acc"]) for n, r in table.items()}, budget)
    assert tl.exercises.check_budget_pick(helper, [LESSON_TABLE])

    def largest_that_fits(table, budget):
        fits = [n for n in table if table[n]["latency_ms"] <= budget]
        return max(fits, key=lambda n: table[n]["latency_ms"], default=None)

    def no_tie_break(table, budget):
        fits = [n for n in table if table[n]["latency_ms"] <= budget]
        return max(fits, key=lambda n: table[n]["probe_acc"], default=None)

    wrong = {"the most accurate, budget ignored": lambda t, b: max(t, key=lambda n: t[n]["probe_acc"]),
             "always the fastest": lambda t, b: min(t, key=lambda n: t[n]["latency_ms"]),
             "the largest that fits": largest_that_fits, "ties kept in table order": no_tie_break,
             "a name, not a function": "efficientnet_lite1",
             "an empty string when nothing fits": lambda t, b: _pick(t, b) or ""}
    for why, answer in wrong.items():
        assert _failed(tl.exercises.check_budget_pick(answer, [LESSON_TABLE])), why


def test_preprocessing_wants_every_value_from_the_card(isolated_assets):
    vit = tl.get_card("vit_small_patch16_224")
    fixed = T.Compose([T.Resize(int(vit.input_size / vit.crop_pct), interpolation=T.InterpolationMode.BICUBIC),
                       T.CenterCrop(vit.input_size), T.ToDtype(torch.float32, scale=True),
                       T.Normalize(vit.mean, vit.std)])
    assert tl.exercises.check_preprocessing(fixed)
    wrong = {"the broken one": T.Compose([T.Resize(256), T.CenterCrop(224), T.ToDtype(torch.float32, scale=True),
                                          T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))]),
             "ImageNet's crop_pct": T.Compose([T.Resize(256, interpolation=T.InterpolationMode.BICUBIC),
                                               T.CenterCrop(vit.input_size), T.ToDtype(torch.float32, scale=True),
                                               T.Normalize(vit.mean, vit.std)]),
             "bilinear": T.Compose([T.Resize(int(vit.input_size / vit.crop_pct)), T.CenterCrop(vit.input_size),
                                    T.ToDtype(torch.float32, scale=True), T.Normalize(vit.mean, vit.std)]),
             "a bug": lambda image: 1 / 0}
    for why, answer in wrong.items():
        assert _failed(tl.exercises.check_preprocessing(answer)), why
