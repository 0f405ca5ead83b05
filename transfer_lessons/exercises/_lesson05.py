from __future__ import annotations

import torch

from ._verdict import exercise, is_number


@exercise("pgd_step", "a function step(pixels, start, grad, eps, step_size) returning the new pixels",
          nudge="after the step, every pixel must be within eps of start and inside [0, 1]",
          method="step: pixels + step_size * grad.sign(); project: clamp to [start - eps, start + eps] "
                 "(torch.minimum / torch.maximum), then to [0, 1]")
def check_pgd_step(answer, eps: float = 4 / 255, step_size: float = 1 / 255) -> bool:
    """Exercise: ``answer(pixels, start, grad, eps, step_size)`` is one projected gradient-sign step."""
    generator = torch.Generator().manual_seed(0)
    start = torch.rand(2, 3, 8, 8, generator=generator)
    start[0, 0, 0] = torch.tensor([0.0, 1.0, 0.5, 0.999, 0.001, 0.3, 0.7, 0.2])  # edges of [0, 1]
    pixels = (start + (2 * torch.rand(start.shape, generator=generator) - 1) * eps).clamp(0, 1)
    grad = torch.randn(start.shape, generator=generator)
    expected = torch.maximum(torch.minimum(pixels + step_size * grad.sign(), start + eps), start - eps).clamp(0, 1)
    mine = torch.as_tensor(answer(pixels.clone(), start.clone(), grad.clone(), eps, step_size))
    return mine.shape == expected.shape and bool(torch.allclose(mine.float(), expected, atol=1e-6))


def _ece(confidence: torch.Tensor, correct: torch.Tensor, n_bins: int) -> float:
    """ECE over bins [k/n, (k+1)/n), the last one closed (a confidence of 1 belongs to it), as reliability_bins."""
    index = (confidence * n_bins).long().clamp(max=n_bins - 1)
    total = 0.0
    for k in index.unique():
        inside = index == k
        total += inside.double().mean() * (confidence[inside].double().mean() - correct[inside].double().mean()).abs()
    return float(total)


@exercise("ece", "a function my_ece(confidence, correct, n_bins) returning the expected calibration error, a number",
          nudge="weigh each bin's |mean confidence - accuracy| by the share of all the images that fall in it",
          method="bin = (confidence * n_bins).long(), clamped to n_bins - 1 so that a confidence of exactly 1 is in "
                 "the last bin; for each non-empty bin add (images in it / all images) * |confidence.mean() - "
                 "correct.mean()| taken over the images in it")
def check_ece(answer) -> bool:
    """Exercise: ``answer(confidence [N], correct [N] bools, n_bins)`` is the ECE, tried on made-up predictions."""
    generator = torch.Generator().manual_seed(0)
    # an always-75%-right model (under-confident low, over-confident high: a global average hides it), then one
    # right with probability confidence squared; 5 bins, so a hard-coded 10 fails
    for n, low, n_bins, squared in ((200, 0.5, 10, False), (60, 0.2, 5, True)):
        confidence = low + (1 - low) * torch.rand(n, generator=generator)
        confidence[0] = 1.0  # a saturated softmax ...
        chance_right = confidence ** 2 if squared else torch.full((n,), 0.75)
        correct = torch.rand(n, generator=generator) < chance_right
        correct[0] = False  # ... and wrong: leaving it out of every bin changes the ECE
        mine = float(answer(confidence.clone(), correct.clone(), n_bins))
        if not abs(mine - _ece(confidence, correct, n_bins)) <= 1e-5:
            return False
    return True


@exercise("detector_threshold", "a number: flag an image as attacked when its score is above it",
          nudge="count how many clean images your threshold flags: at most the allowed share",
          method="sort the clean scores; flagging 'score > t' may flag at most max_fpr of them, so t is the clean "
                 "score at that rank (or above); of such thresholds the lowest catches the most attacked images")
def check_detector_threshold(answer, clean_scores=None, attacked_scores=None, max_fpr: float = 0.05) -> bool:
    """Exercise: the threshold catching the most attacked images while flagging at most ``max_fpr`` clean ones."""
    clean, attacked = (torch.as_tensor(s).detach().cpu().double() for s in (clean_scores, attacked_scores))
    if isinstance(answer, torch.Tensor) and answer.numel() == 1:  # t = scores.sort().values[k] is a tensor: fine
        answer = answer.item()
    allowed = int(max_fpr * len(clean))  # clean images that may be flagged
    best = torch.sort(clean, descending=True).values[min(allowed, len(clean) - 1)]  # every score above it flagged
    fpr = float((clean > answer).double().mean())
    return is_number(answer) and fpr <= max_fpr and int((attacked > answer).sum()) >= int((attacked > best).sum())
