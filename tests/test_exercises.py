"""Exercise checks: not done → hint, wrong → hint, right → pass; they never raise."""

import re

import torch

import transfer_lessons as tl
from transfer_lessons import exercises


def test_not_done_yet_gives_hint():
    for name, check in exercises.CHECKS.items():
        verdict = check(None)
        assert not verdict and "not done yet. Hint:" in repr(verdict), name
        assert tl.recording.records()[f"exercise.{verdict.name}"] == "not attempted"


def test_wrong_answers_fail(isolated_assets):
    verdicts = [tl.exercises.check_top1_label("tabby, tabby cat", photo="coffee"),
                tl.exercises.check_cat_classes([281]),
                tl.exercises.check_normalize(lambda x, m, s: x),
                tl.exercises.check_normalize(lambda x, m, s: 1 / 0)]  # a bug in the answer is a "not yet"
    for verdict in verdicts:
        assert not verdict and repr(verdict).startswith("✗") and "not yet. Hint:" in repr(verdict)
    assert tl.recording.records()["exercise.normalize"] == "failed"


def test_right_answers_pass(isolated_assets):
    model = tl.create_backbone("efficientnet_lite0")
    assert tl.exercises.check_top1_label(tl.predict_topk(model, tl.sample_photo("coffee"), k=1)[0][0])
    labels = tl.imagenet_labels()
    assert tl.exercises.check_cat_classes([i for i, label in enumerate(labels) if re.search(r"\bcat\b", label)])
    verdict = tl.exercises.check_normalize(lambda x, m, s: (x - torch.tensor(m)[:, None, None])
                                           / torch.tensor(s)[:, None, None])
    assert verdict and repr(verdict) == "✓ normalize: correct."
    assert tl.recording.records()["exercise.normalize"] == "passed"


def test_lesson01_checks_compute_their_own_answers(isolated_assets):
    from torch.utils.flop_counter import FlopCounterMode
    from torchvision.transforms import v2 as T

    card = tl.get_card("efficientnet_lite1")
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        tl.create_backbone("efficientnet_lite1", pretrained=False)(torch.zeros(1, 3, card.input_size, card.input_size))
    gflops = counter.get_total_flops() / 1e9
    # multiply-adds are not FLOPs
    assert tl.exercises.check_gflops(gflops) and not tl.exercises.check_gflops(gflops / 2)
    assert not tl.exercises.check_gflops("1.2")

    table = {"a": {"latency_ms": 5.0, "probe_acc": 0.90}, "b": {"latency_ms": 9.0, "probe_acc": 0.95},
             "c": {"latency_ms": 20.0, "probe_acc": 0.97}}
    assert tl.exercises.check_budget_pick("b", table, 10.0) and not tl.exercises.check_budget_pick("c", table, 10.0)
    assert not tl.exercises.check_budget_pick("a", None, 10.0)

    vit = tl.get_card("vit_small_patch16_224")
    fixed = T.Compose([T.Resize(int(vit.input_size / vit.crop_pct), interpolation=T.InterpolationMode.BICUBIC),
                       T.CenterCrop(vit.input_size), T.ToDtype(torch.float32, scale=True),
                       T.Normalize(vit.mean, vit.std)])
    broken = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToDtype(torch.float32, scale=True),
                        T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])
    assert tl.exercises.check_preprocessing(fixed)
    verdict = tl.exercises.check_preprocessing(broken)
    assert not verdict and "(0.5, 0.5, 0.5)" in repr(verdict)
    assert not tl.exercises.check_preprocessing(lambda image: 1 / 0)
    assert tl.recording.records()["exercise.preprocessing"] == "failed"


def test_lesson05_checks_accept_right_answers_and_reject_near_misses():
    def step(pixels, start, grad, eps, step_size):
        return torch.maximum(torch.minimum(pixels + step_size * grad.sign(), start + eps), start - eps).clamp(0, 1)

    assert tl.exercises.check_pgd_step(step)
    assert not tl.exercises.check_pgd_step(lambda p, s, g, e, k: (p + k * g.sign()).clamp(0, 1))  # no projection
    assert not tl.exercises.check_pgd_step(lambda p, s, g, e, k: 1 / 0)  # a bug is a "not yet"
    logits, targets = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 0.9], [3.0, 0.0]]), torch.tensor([0, 1, 1, 1])
    from transfer_lessons.evaluation import expected_calibration_error

    ece = expected_calibration_error(logits, targets, n_bins=10)
    assert tl.exercises.check_ece(ece, logits, targets) and not tl.exercises.check_ece(ece + 0.01, logits, targets)
    clean, attacked = torch.arange(20.0), torch.arange(10.0, 30.0)
    best = 18.0  # 5 % of 20 clean images = 1 may be flagged: only 19 is above 18
    assert tl.exercises.check_detector_threshold(best, clean, attacked)
    assert not tl.exercises.check_detector_threshold(17.0, clean, attacked), "flags 2 clean images: 10 %"
    assert not tl.exercises.check_detector_threshold(25.0, clean, attacked), "allowed, but catches fewer"
    assert tl.recording.records()["exercise.detector_threshold"] == "failed"


def test_lesson04_checks_accept_right_answers_and_reject_near_misses():
    assert tl.exercises.check_mfu(100 * 2e9 / 1e12, 100, 2e9, 1e12)
    assert not tl.exercises.check_mfu(100 * 2e9 / 1e12 * 100, 100, 2e9, 1e12), "a percentage is not a fraction"
    assert not tl.exercises.check_mfu(0.2, None, 2e9, 1e12), "without the run's numbers there is nothing to check"
    a = torch.tensor([[0.9, 0.1], [0.4, 0.6], [0.45, 0.55]])
    b = torch.tensor([[0.6, 0.4], [0.8, 0.2], [0.7, 0.3]])
    targets = torch.tensor([0, 0, 1])
    # averaged probabilities: [0.75, 0.25], [0.6, 0.4], [0.575, 0.425] -> classes 0, 0, 0: accuracy 2/3
    assert tl.exercises.check_ensemble_accuracy(2 / 3, [a, b], targets)
    assert not tl.exercises.check_ensemble_accuracy(1 / 3, [a, b], targets)

    def per_channel(weight):
        scale = weight.abs().amax(dim=(1, 2, 3), keepdim=True) / 127
        return (weight / scale).round().clamp(-127, 127) * scale

    def per_tensor(weight):
        scale = weight.abs().max() / 127
        return (weight / scale).round().clamp(-127, 127) * scale

    assert tl.exercises.check_quantize_weight(per_channel)
    assert not tl.exercises.check_quantize_weight(per_tensor), "one scale for all channels crushes the quiet ones"
    assert not tl.exercises.check_quantize_weight(lambda w: 1 / 0)
    assert tl.recording.records()["exercise.quantize_weight"] == "failed"
