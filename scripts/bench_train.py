"""Training throughput of the package's loop on one backbone, per speed-up, on this device.

A small stand-in until lesson 04's ``python -m transfer_lessons bench``: it times
``train_one_epoch`` on random images already on the device (so data loading is not measured),
after one warm-up epoch, for eager fp32, channels_last, bf16 autocast, and ``torch.compile``.

    python scripts/bench_train.py [--backbone efficientnet_lite0] [--batch 128] [--steps 20] [--json OUT]
"""

import argparse
import json
import time

import torch
from torch import nn

import transfer_lessons as tl
from transfer_lessons.runtime import versions
from transfer_lessons.train import train_one_epoch


def measure(args, device, *, channels_last=False, amp=None, compile=False) -> float:
    tl.seed_everything(0)
    model = tl.create_backbone(args.backbone, pretrained=False, num_classes=2).to(device).train()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    step_model = torch.compile(model) if compile else model
    images = torch.randn(args.batch, 3, args.size, args.size, device=device)
    targets = torch.randint(0, 2, (args.batch,), device=device)
    loader = [(images, targets)] * args.steps
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    kwargs = dict(amp_dtype=torch.bfloat16 if amp == "bf16" else None, channels_last=channels_last,
                  progress=False)
    train_one_epoch(step_model, loader[:3], optimizer, nn.CrossEntropyLoss(), device, **kwargs)  # warm-up
    return train_one_epoch(step_model, loader, optimizer, nn.CrossEntropyLoss(), device, **kwargs)["images_per_s"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backbone", default="efficientnet_lite0")
    parser.add_argument("--batch", type=int, default=None)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    device = tl.pick_device()
    args.batch = args.batch or (128 if device.type == "cuda" else 16)
    args.steps = args.steps or (30 if device.type == "cuda" else 4)
    variants = {"fp32": {}, "channels_last": {"channels_last": True}, "bf16": {"amp": "bf16"},
                "bf16_channels_last": {"amp": "bf16", "channels_last": True}}
    if device.type == "cuda":
        variants["bf16_channels_last_compile"] = {"amp": "bf16", "channels_last": True, "compile": True}
    name = torch.cuda.get_device_name() if device.type == "cuda" else "cpu"
    result = {"device": name, "versions": versions(), "backbone": args.backbone, "batch": args.batch,
              "size": args.size, "steps": args.steps, "images_per_s": {}}
    for variant, options in variants.items():
        start = time.perf_counter()
        result["images_per_s"][variant] = round(measure(args, device, **options), 1)
        print(f"{variant:<28} {result['images_per_s'][variant]:>9.1f} img/s "
              f"(speed-up {result['images_per_s'][variant] / result['images_per_s']['fp32']:.2f}x, "
              f"{time.perf_counter() - start:.0f} s incl. warm-up)", flush=True)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(result, handle, indent=2)


if __name__ == "__main__":
    main()
