"""Run profiles: how big each lesson's run is (``smoke``, ``cpu``, ``gpu``), defined once.

A notebook's ``parameters`` cell names a profile; everything size-like is read from here, so no notebook copies a table
of numbers. ``auto`` means the profile named by ``TRANSFER_LESSONS_PROFILE`` when set (how tests run notebooks that
papermill does not inject into, e.g. under nbval), else ``gpu`` when CUDA is there, else ``cpu``. Override single fields
with keywords: ``get_profile("cpu", epochs=3)``.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Optional

import torch

from ..errors import UnknownName


@dataclass(frozen=True)
class Profile:
    """Sizes for one kind of run. Every field has its meaning and unit beside it."""

    name: str
    # --- classification (lessons 01, 02, 04, 05) ---
    image_size: Optional[int] = None  # side of the square training input, pixels; None = the backbone card's input_size
    probe_image_size: Optional[int] = None  # lesson 01's feature extraction side, pixels; None = each card's input_size
    train_images: Optional[int] = None  # cap on training images (None = all), balanced per class
    val_images: Optional[int] = None  # cap on validation images (None = all)
    batch_size: int = 32  # images per optimiser step
    epochs: int = 3  # passes over the training images per fine-tuning run
    num_workers: int = 0  # DataLoader worker processes; decoded images are cached, so 0 is fast
    data_fractions: tuple = (0.1, 0.25, 0.5, 1.0)  # shares of the training images in lesson 02's data-efficiency runs
    lr_find_steps: int = 20  # optimiser steps of lesson 02's learning-rate range test
    finetune_epochs: int = 3  # epochs of the one-call fine_tune (its measured default: see fine_tune)
    finetune_image_size: Optional[int] = 192  # fine_tune's training side, pixels; None = the card's input_size
    tour_epochs: int = 2  # epochs of lesson 00's one-call fine_tune (the whole lesson has a minute on a cpu)
    tour_image_size: Optional[int] = 128  # its training side, pixels; None = finetune_image_size
    # a dataset far from ImageNet (pbc_blood_cells), lessons 01-02: its features and fine-tunes at this side, pixels
    far_image_size: Optional[int] = 112  # None = the card's input_size
    far_epochs: int = 3  # lesson 02's epochs per strategy on that dataset
    far_strategies: Optional[tuple] = None  # lesson 02's strategies on that dataset; None = every strategy card
    # --- detection (lesson 03) ---
    det_min_size: int = 320  # shorter image side fed to the detector, pixels
    det_train_images: Optional[int] = None  # cap on detection training images (None = all)
    det_test_images: Optional[int] = 50  # detection test images held out
    det_epochs: int = 6  # detection training epochs
    det_eval_every: int = 1  # measure the detectors' AP every this many epochs (and after the last)
    det_batch_size: int = 4  # detection images per optimiser step (fit_detector's lr 0.02 is tuned for 4)
    # --- optimization (lesson 04) ---
    opt_image_size: int = 224  # input side of lesson 04's speed runs and fine-tunes, pixels
    speed_steps: int = 20  # timed optimiser steps per speed variant (data loading included)
    speed_warmup: int = 3  # untimed steps before each timing (allocation, kernel choice, worker start-up)
    speed_compile: bool = True  # time torch.compile too (compiling takes minutes on a CPU)
    ensemble_backbones: tuple = tuple(f"efficientnet_lite{n}" for n in range(3))  # lesson 04's ensemble members
    calibration_images: int = 256  # training images that fix the int8 model's activation ranges
    # --- robustness (lesson 05) ---
    robust_image_size: int = 224  # input side of lesson 05's models, pixels (attacks cost a backward pass per step)
    attack_images: Optional[int] = None  # validation images attacked (None = all), the same ones for every model
    pgd_steps: int = 10  # gradient steps of each PGD attack
    adv_epochs: int = 3  # epochs of the adversarial fine-tuning run
    # --- timing (lessons 01, 04) ---
    bench_repeats: int = 10  # timed repetitions per latency measurement (after warm-up)

    def as_dict(self) -> dict:
        """The profile as a plain dict (tuples as lists, as JSON has them), for checkpoints and reports."""
        return {key: list(value) if isinstance(value, tuple) else value
                for key, value in dataclasses.asdict(self).items()}


PROFILES: dict[str, Profile] = {
    # Seconds per notebook: tiny subsets and tiny inputs. For tests, not for conclusions.
    "smoke": Profile(
        name="smoke", image_size=64, probe_image_size=128, train_images=16, val_images=16, batch_size=8, epochs=1,
        finetune_epochs=1, finetune_image_size=64, tour_epochs=1, tour_image_size=64, far_image_size=64, far_epochs=1,
        det_min_size=128, det_train_images=4, det_test_images=4, det_epochs=1, bench_repeats=2,
        lr_find_steps=5, robust_image_size=64, attack_images=16, pgd_steps=2, adv_epochs=1,
        opt_image_size=64, speed_steps=1, speed_warmup=1, speed_compile=False, calibration_images=16,
        ensemble_backbones=("efficientnet_lite0", "efficientnet_lite1"),
    ),
    # A laptop's CPU: real data and real results in minutes.
    "cpu": Profile(name="cpu", epochs=2, data_fractions=(0.1, 0.25, 1.0), lr_find_steps=6,
                   det_min_size=192, det_epochs=3, det_eval_every=3, robust_image_size=128, attack_images=48,
                   pgd_steps=5, adv_epochs=2, far_strategies=("scratch", "linear_probe", "full"),
                   opt_image_size=160, speed_steps=6, speed_warmup=1, speed_compile=False, calibration_images=192),
    # The full lesson on one GPU.
    "gpu": Profile(
        name="gpu", batch_size=64, epochs=10, num_workers=4, lr_find_steps=60,
        tour_epochs=5, tour_image_size=None,
        finetune_epochs=10, finetune_image_size=None, far_image_size=None, far_epochs=10,
        det_min_size=512, det_test_images=50, det_epochs=15,
        bench_repeats=50, adv_epochs=10,
    ),
}


def resolve_profile_name(name: str = "auto") -> str:
    """Turn ``auto`` into a concrete profile name (see the module docstring); UnknownName for an unknown name."""
    if name == "auto":
        name = os.environ.get("TRANSFER_LESSONS_PROFILE", "").strip() or name
    if name == "auto":
        return "gpu" if torch.cuda.is_available() else "cpu"
    if name not in PROFILES:
        raise UnknownName("profile", name, [*PROFILES, "auto"], "transfer_lessons.runtime.PROFILES")
    return name


def get_profile(name: str = "auto", **overrides) -> Profile:
    """Return the named profile (``smoke``, ``cpu``, ``gpu`` or ``auto``), with any field overridden by keyword.

    Raises: UnknownName: unknown profile name. TypeError: an override names no field of ``Profile``.
    """
    profile = PROFILES[resolve_profile_name(name)]
    fields = {f.name for f in dataclasses.fields(Profile)}
    unknown = set(overrides) - fields
    if unknown:
        raise TypeError(f"Profile has no field(s) {sorted(unknown)}; fields are {sorted(fields)}.")
    return dataclasses.replace(profile, **overrides)
