"""Tests for transfer_lessons.evaluation's robustness: attacks, attack detectors, AUROC, corruptions."""

from __future__ import annotations

import pytest
import torch
from helpers import tiny_net
from torch import nn

from transfer_lessons.errors import UnknownName
from transfer_lessons.evaluation import (
    CORRUPTIONS,
    accuracy_under_attack,
    corrupt,
    fgsm,
    pgd,
    roc_auc,
    squeeze_score,
)
from transfer_lessons.evaluation._robustness import _median_filter
from transfer_lessons.models import IMAGENET_MEAN, IMAGENET_STD

pytestmark = pytest.mark.usefixtures("one_thread")
MEAN_STD = {"mean": IMAGENET_MEAN, "std": IMAGENET_STD}
MEAN = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
STD = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)


def _normalise(pixels):
    return (pixels - MEAN) / STD


def _pixels(images):
    return images * STD + MEAN


def _random_batch(seed=0, n=4, size=16):
    generator = torch.Generator().manual_seed(seed)
    return _normalise(torch.rand(n, 3, size, size, generator=generator)), torch.randint(0, 2, (n,), generator=generator)


@pytest.fixture(scope="module")
def toy():
    """A small conv net trained on a separable problem: dark (class 0) vs bright (class 1) images."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    targets = torch.arange(64) % 2
    base = 0.35 + 0.3 * targets.float().view(-1, 1, 1, 1)
    images = _normalise((base + 0.05 * torch.randn(64, 3, 12, 12)).clamp(0, 1))
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(4, 2))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(60):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(images), targets).backward()
        optimizer.step()
    torch.set_num_threads(threads)
    return model.eval(), images, targets


def _accuracy(model, images, targets):
    with torch.no_grad():
        return (model(images).argmax(1) == targets).float().mean().item()


def test_fgsm_with_eps_zero_returns_the_input_exactly():
    images, targets = _random_batch()
    adversarial = fgsm(tiny_net(), images, targets, 0.0, **MEAN_STD)
    assert torch.equal(adversarial, images), f"max change {(adversarial - images).abs().max():.3g}, expected 0"
    assert adversarial is not images, "fgsm should return a copy, not the input itself"


@pytest.mark.parametrize("attack", [fgsm, pgd])
def test_attacks_stay_in_the_eps_ball_and_in_pixel_range(attack):
    images, targets = _random_batch()
    eps = 8 / 255
    extra = {"steps": 3, "generator": torch.Generator().manual_seed(1)} if attack is pgd else {}
    pixels = _pixels(attack(tiny_net(), images, targets, eps, **MEAN_STD, **extra))
    change = (pixels - _pixels(images)).abs().max().item()
    assert change <= eps + 1e-5, f"{attack.__name__}: pixel change {change:.5f} > eps {eps:.5f}"
    assert change >= 0.5 * eps, f"{attack.__name__}: pixel change {change:.5f}; the attack barely moved"
    low, high = pixels.min().item(), pixels.max().item()
    assert low >= -1e-5 and high <= 1 + 1e-5, f"{attack.__name__}: pixels in [{low:.5f}, {high:.5f}], not [0, 1]"


def test_attacks_restore_each_modules_mode_and_leave_parameter_gradients_alone():
    model = tiny_net().train()
    model[1].eval()  # a frozen BatchNorm, as set_batchnorm_eval leaves it
    before = [m.training for m in model.modules()]
    images, targets = _random_batch()
    first = fgsm(model, images, targets, 4 / 255, **MEAN_STD)
    pgd(model, images, targets, 4 / 255, **MEAN_STD, steps=2)
    squeeze_score(model, images, **MEAN_STD)
    after = [m.training for m in model.modules()]
    assert after == before, f"modes after the attacks {after}, expected {before}"
    grads = [name for name, p in model.named_parameters() if p.grad is not None]
    assert not grads, f"attacks wrote .grad on {grads}; expected no parameter gradients"
    second = fgsm(model, images, targets, 4 / 255, **MEAN_STD)
    assert torch.equal(first, second), "fgsm differs between calls: Dropout was active, so not in eval mode"


def test_pgd_is_repeatable_with_a_generator_and_checks_its_arguments():
    images, targets = _random_batch()
    model = tiny_net()
    runs = [pgd(model, images, targets, 4 / 255, **MEAN_STD, steps=2, generator=torch.Generator().manual_seed(3))
            for _ in range(2)]
    assert torch.equal(*runs), "pgd with the same seeded generator gave different images"
    with pytest.raises(ValueError, match="4/255"):
        fgsm(model, images, targets, 4, **MEAN_STD)
    with pytest.raises(ValueError, match="steps=0"):
        pgd(model, images, targets, 4 / 255, **MEAN_STD, steps=0)


def test_pgd_lowers_accuracy_at_least_as_much_as_fgsm(toy):
    model, images, targets = toy
    clean = _accuracy(model, images, targets)
    assert clean >= 0.95, f"toy model accuracy {clean:.2f}; expected >= 0.95 after training"
    eps = 0.12
    after_fgsm = _accuracy(model, fgsm(model, images, targets, eps, **MEAN_STD), targets)
    adversarial = pgd(model, images, targets, eps, **MEAN_STD, generator=torch.Generator().manual_seed(0))
    after_pgd = _accuracy(model, adversarial, targets)
    assert after_fgsm < clean, f"FGSM accuracy {after_fgsm:.2f}, expected below clean {clean:.2f}"
    assert after_pgd <= after_fgsm, f"PGD accuracy {after_pgd:.2f} > FGSM's {after_fgsm:.2f}"


def test_accuracy_under_attack_reports_clean_accuracy_at_eps_zero(toy):
    model, images, targets = toy
    loader = [(images[:40], targets[:40]), (images[40:], targets[40:])]
    result = accuracy_under_attack(model, loader, pgd, [0, 0.12], **MEAN_STD, steps=5)
    assert list(result) == [0, 0.12], f"keys {list(result)}, expected the eps values in order"
    clean = _accuracy(model, images, targets)
    assert result[0] == pytest.approx(clean), f"accuracy at eps 0 {result[0]:.3f} != clean {clean:.3f}"
    assert result[0.12] < result[0], f"accuracy under attack {result[0.12]:.2f} not below clean {result[0]:.2f}"
    with pytest.raises(ValueError, match="no batch"):
        accuracy_under_attack(model, [], fgsm, [0], **MEAN_STD)


def test_median_filter_removes_an_isolated_pixel_and_keeps_flat_regions():
    image = torch.zeros(1, 3, 6, 6)
    image[..., 2, 3] = 1.0
    assert _median_filter(image, 2).abs().max().item() == 0, "a 2x2 median should erase one bright pixel"
    flat = torch.full((1, 3, 5, 5), 0.25)
    assert torch.equal(_median_filter(flat, 3), flat), "a median filter changed a constant image"


def test_squeeze_score_is_zero_when_squeezing_changes_nothing_and_bounded():
    model = tiny_net()
    flat = _normalise(torch.ones(2, 3, 8, 8))  # 1.0 survives bit reduction and the median filter
    noisy, _ = _random_batch(n=3, size=8)
    scores_flat, scores_noisy = squeeze_score(model, flat, **MEAN_STD), squeeze_score(model, noisy, **MEAN_STD)
    assert scores_flat.shape == (2,), f"shape {tuple(scores_flat.shape)}, expected (2,)"
    assert scores_flat.max() < 1e-5, f"scores on flat images {scores_flat.tolist()}, expected 0"
    assert scores_noisy.shape == (3,), f"shape {tuple(scores_noisy.shape)}, expected (3,)"
    assert ((scores_noisy >= 0) & (scores_noisy <= 2)).all(), f"scores {scores_noisy.tolist()} outside [0, 2]"
    with pytest.raises(ValueError, match="bits=9"):
        squeeze_score(model, flat, **MEAN_STD, bits=9)
    with pytest.raises(ValueError, match="at least one squeezer"):
        squeeze_score(model, flat, **MEAN_STD, bits=None, median=None)


@pytest.mark.parametrize("clean, attacked, expected", [
    ([0.1, 0.2, 0.3], [0.7, 0.8], 1.0),
    ([0.7, 0.8], [0.1, 0.2, 0.3], 0.0),
    ([0.5, 0.5], [0.5, 0.5], 0.5),
    ([1000.0, 1000.5], [1001.0, 1002.0], 1.0),  # a sigmoid would tie these at 1.0
])
def test_roc_auc_on_hand_made_scores(clean, attacked, expected):
    observed = roc_auc(torch.tensor(clean), torch.tensor(attacked))
    assert observed == pytest.approx(expected), f"roc_auc {observed}, expected {expected}"


def test_roc_auc_refuses_empty_scores():
    with pytest.raises(ValueError, match="non-empty 1-D"):
        roc_auc(torch.tensor([]), torch.tensor([0.5]))


def _texture(dtype):
    image = torch.randint(0, 256, (3, 24, 24), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    return image if dtype == torch.uint8 else image.float() / 255


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_corruptions_keep_shape_dtype_and_range_and_grow_with_severity(name, dtype):
    image = _texture(dtype)
    changes = []
    for severity in (1, 5):
        out = corrupt(image, name, severity, generator=torch.Generator().manual_seed(0))
        assert out.shape == image.shape and out.dtype == image.dtype, f"{name}: {out.shape} {out.dtype} != input's"
        if dtype == torch.float32:
            assert out.min() >= 0 and out.max() <= 1, f"{name}: values in [{out.min()}, {out.max()}], not [0, 1]"
        changes.append((out.float() - image.float()).abs().mean().item())
    assert 0 < changes[0] < changes[1], f"{name}: mean change at severity 1, 5 = {changes}; expected growing"


def test_noise_is_repeatable_with_a_generator():
    image = _texture(torch.uint8)
    runs = [corrupt(image, "gaussian_noise", 3, generator=torch.Generator().manual_seed(s)) for s in (7, 7, 8)]
    assert torch.equal(runs[0], runs[1]), "the same seed gave different noise"
    assert not torch.equal(runs[0], runs[2]), "different seeds gave the same noise"


@pytest.mark.parametrize("severity", [0, 6, 2.5, True])
def test_corruptions_refuse_a_bad_severity(severity):
    for name in CORRUPTIONS:
        with pytest.raises(ValueError, match="severity"):
            corrupt(_texture(torch.uint8), name, severity)


def test_corruptions_refuse_normalised_images_and_unknown_names():
    with pytest.raises(ValueError, match="denormalize"):
        corrupt(_normalise(torch.rand(1, 3, 8, 8))[0], "brightness", 1)
    with pytest.raises(UnknownName) as info:
        corrupt(_texture(torch.uint8), "gausian_noise", 1)
    message = str(info.value)
    assert all(name in message for name in CORRUPTIONS), f"message {message!r} does not list every corruption"
    assert "Did you mean 'gaussian_noise'?" in message, f"message {message!r} lacks the close match"


def test_noise_score_separates_sign_noise_from_a_photo_like_image_and_misses_a_smooth_shift():
    from transfer_lessons.evaluation import noise_score

    # a "photo": a smooth gradient (flat almost everywhere) with one sharp edge
    ramp = torch.linspace(0.2, 0.8, 32)
    pixels = ramp.view(1, 1, 1, 32).expand(1, 3, 32, 32).clone()
    pixels[..., 16:, :] += 0.1
    eps = 4 / 255
    sign_noise = torch.randint(0, 2, pixels.shape, generator=torch.Generator().manual_seed(0)) * 2 - 1
    noisy = (pixels + eps * sign_noise).clamp(0, 1)
    smooth = (pixels + eps).clamp(0, 1)  # the same +eps on every pixel: a "smooth" perturbation
    clean, attacked, shifted = (noise_score(_normalise(x), **MEAN_STD) for x in (pixels, noisy, smooth))
    assert attacked.item() > 10 * max(clean.item(), 1e-4), (clean, attacked)
    assert shifted.item() == pytest.approx(clean.item(), abs=1e-4), "a smooth shift leaves flat regions flat"
    assert noise_score(_normalise(torch.cat([pixels, noisy])), **MEAN_STD).shape == (2,)


def test_noise_score_rejects_bad_arguments_with_the_fix():
    from transfer_lessons.evaluation import noise_score

    with pytest.raises(ValueError, match="between 0 and 1"):
        noise_score(torch.zeros(1, 3, 8, 8), **MEAN_STD, quantile=1.0)
    with pytest.raises(ValueError, match=r"\[N, C, H, W\]"):
        noise_score(torch.zeros(3, 8, 8), **MEAN_STD)
