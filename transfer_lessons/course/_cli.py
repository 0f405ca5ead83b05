"""The command line: ``python -m transfer_lessons COMMAND`` (``COMMAND --help`` gives its flags).
``finetune`` is lesson 02 without a notebook, ``bench`` times lesson 04's speed-ups, ``run`` is ``make course``.

Errors of the package print one line naming the problem and the fix, and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..assets import build_mirror, check_mirror, format_mirror
from ..data import SAMPLE_PHOTOS, sample_photo
from ..errors import DataError, TransferLessonsError
from ..evaluation import predict_topk
from ..models import create_backbone
from ..runtime import atomic_path
from ..speed import bench_training, format_bench
from ..training import DEFAULT_STRATEGY, fine_tune, load_model
from ._classroom import EDITIONS, build_edition, format_progress, progress
from ._doctor import doctor_report, print_doctor
from ._runner import run_lessons


def _doctor(args) -> int:
    report = doctor_report()
    print(json.dumps(report, indent=2)) if args.json else print_doctor(report)
    return 0


def _predict(args) -> int:
    path = Path(args.image)
    if path.is_file():
        image = path
    elif args.image in SAMPLE_PHOTOS:
        image = sample_photo(args.image)
    else:
        raise DataError(f"Image {args.image!r} not found: give the path of an image file "
                        f"(or a sample photo: {', '.join(SAMPLE_PHOTOS)}).")
    if args.model is not None:
        try:
            loaded = load_model(args.model)
        except FileNotFoundError as err:  # one line on stderr, like the package's own errors
            raise TransferLessonsError(str(err)) from err
        rows = loaded.predict(image, k=args.k)
    else:
        rows = predict_topk(create_backbone(args.backbone, pretrained=True), image, k=args.k)
    for label, prob in rows:
        print(f"{label}\t{prob:.4f}")
    return 0


def _finetune(args) -> int:
    result = fine_tune(args.data, backbone=args.backbone, strategy=args.strategy, profile=args.profile,
                       epochs=args.epochs, lr=args.lr, image_size=args.image_size, val_fraction=args.val_fraction,
                       output=args.out, seed=args.seed)
    print(f"validation accuracy {result.val_acc:.4f} (epoch {result.history.kept_epoch}, the best); "
          f"model saved to {result.path}")
    return 0


def _write_json(path, data) -> None:
    if not path:
        return
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2))
    print(f"written to {path}")


def _bench(args) -> int:
    result = bench_training(args.backbone, batch=args.batch, size=args.size, steps=args.steps, device=args.device,
                            variants=args.variants, repeats=args.repeats)
    print(format_bench(result))
    _write_json(args.json, result)
    return 0


def _run(args) -> int:
    summary = run_lessons(args.profile, args.lessons, notebook_dir=args.notebooks, out_dir=args.out)
    failed = [name for name, entry in summary["lessons"].items() if entry["status"] != "ok"]
    print(f"{len(summary['lessons']) - len(failed)} of {len(summary['lessons'])} lessons ok "
          f"(profile {summary['profile']}); reports in {args.out}/")
    return 1 if failed or not summary["lessons"] else 0


def _edition(args) -> int:
    out = args.out or f"build/{args.kind}"
    written = build_edition(args.kind, out, notebooks_dir=args.notebooks)
    print(f"{args.kind} edition: {len(written)} notebooks written to {out}/")
    if args.kind == "nbgrader":
        print(f"next: cd {out} && nbgrader generate_assignment '*'  (then release, collect, autograde)")
    return 0


def _progress(args) -> int:
    rows = progress(args.dir, lessons=args.lessons, execute=args.execute, profile=args.profile)
    print(format_progress(rows))
    _write_json(args.json, rows)
    return 0


def _mirror(args) -> int:
    if args.check:
        problems = check_mirror(args.dir)
        for row in problems:
            print(f"{row['path']}: {row['problem']}")
        fix = f"; run `python -m transfer_lessons mirror {args.dir}` to repair" if problems else ""
        print(f"{args.dir}: {len(problems)} problem(s){fix}")
        return 1 if problems else 0
    rows = build_mirror(args.dir, datasets=args.datasets, backbones=args.backbones, detectors=args.detectors,
                        base_url=args.base_url)
    print(format_mirror(rows, args.dir))
    return 1 if any(row["status"] == "failed" for row in rows) else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m transfer_lessons", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    doctor = commands.add_parser("doctor", help="show versions, device and where each asset comes from")
    doctor.add_argument("--json", action="store_true", help="print one JSON object")
    predict = commands.add_parser("predict", help="top-5 classes of an image (ImageNet, or a --model file's)")
    predict.add_argument("image", help="an image file, or a sample photo name such as chelsea")
    predict.add_argument("--backbone", default="efficientnet_lite0")
    predict.add_argument("--model", metavar="FILE", help="a model file written by save_model (replaces --backbone)")
    predict.add_argument("-k", type=int, default=5, help="how many classes (default 5)")
    finetune = commands.add_parser("finetune", help="fine-tune a backbone on your images and save the model")
    finetune.add_argument("data", help="a dataset name (hymenoptera), a folder (train/ + val/, valid/ or test/; or "
                                       "class folders alone) or a path,label CSV")
    finetune.add_argument("--out", required=True, metavar="FILE", help="where to save the model file")
    finetune.add_argument("--backbone", default="efficientnet_lite0")
    finetune.add_argument("--strategy", default=DEFAULT_STRATEGY,
                          help=f"scratch, linear_probe, partial, full or discriminative (default {DEFAULT_STRATEGY})")
    finetune.add_argument("--profile", default="auto", help="smoke, cpu, gpu or auto (default)")
    finetune.add_argument("--epochs", type=int, help="default: the profile's finetune_epochs")
    finetune.add_argument("--lr", type=float, help="default: the strategy's")
    finetune.add_argument("--image-size", type=int, help="training side in pixels (default: the profile's)")
    finetune.add_argument("--val-fraction", type=float, default=0.2,
                          help="share of each class held out when the data has no validation split (default 0.2)")
    finetune.add_argument("--seed", type=int, default=0)
    bench = commands.add_parser("bench", help="training speed: the package's loop vs a bare loop, per speed-up")
    bench.add_argument("--backbone", default="efficientnet_lite0", help="a catalog backbone (random weights)")
    bench.add_argument("--batch", type=int, help="images per step (default 128 on CUDA, else 32)")
    bench.add_argument("--size", type=int, default=224, help="image side in pixels (default 224)")
    bench.add_argument("--steps", type=int, help="steps per timed measurement (default 20 on CUDA, else 3)")
    bench.add_argument("--repeats", type=int, default=3, help="measurements per loop; medians are shown (default 3)")
    bench.add_argument("--variants", nargs="+", metavar="V",
                       help="fp32 channels_last bf16 bf16_channels_last channels_last_compile "
                            "bf16_channels_last_compile fp16_channels_last (default: all that suit the device)")
    bench.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:1, mps")
    bench.add_argument("--json", metavar="FILE", help="also write the result as JSON")
    run = commands.add_parser("run", help="execute the lessons and write reports/")
    run.add_argument("--profile", default="auto", help="smoke, cpu, gpu or auto (default)")
    run.add_argument("--lessons", nargs="*", help="lesson numbers or names (default: all)")
    run.add_argument("--notebooks", default="notebooks", help="folder of the lesson notebooks")
    run.add_argument("--out", default="reports", help="folder for the reports")
    edition = commands.add_parser("edition", help="write the student, instructor or nbgrader edition of the notebooks")
    edition.add_argument("kind", choices=EDITIONS)
    edition.add_argument("--out", metavar="DIR", help="default: build/<kind>")
    edition.add_argument("--notebooks", default="notebooks", help="folder of the lesson notebooks")
    prog = commands.add_parser("progress", help="each exercise's status in a folder of notebooks")
    prog.add_argument("dir", nargs="?", default="notebooks", help="the learner's notebooks (default notebooks/)")
    prog.add_argument("--lessons", nargs="*", help="lesson numbers or names (default: all)")
    prog.add_argument("--execute", action="store_true", help="run each notebook first (into a temporary folder)")
    prog.add_argument("--profile", default="smoke", help="PROFILE for --execute (default smoke)")
    prog.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    mirror = commands.add_parser("mirror", help="fetch every dataset and weight file into DIR, for offline use")
    mirror.add_argument("dir", help="the mirror folder (created; an existing one is resumed and repaired)")
    mirror.add_argument("--datasets", nargs="*", metavar="NAME", help="default: every downloadable dataset")
    mirror.add_argument("--backbones", nargs="*", metavar="NAME", help="default: the whole catalog")
    mirror.add_argument("--detectors", nargs="*", metavar="NAME", help="default: coco_detector (lesson 03)")
    mirror.add_argument("--base-url", metavar="URL", help="fetch URL/<file name> instead of the official addresses")
    mirror.add_argument("--check", action="store_true", help="only verify the files against DIR/MANIFEST.sha256")
    return parser


def main(argv=None) -> int:
    """Entry point; returns the exit status instead of exiting (safe to call from a notebook)."""
    args = _parser().parse_args(argv)
    commands = {"doctor": _doctor, "predict": _predict, "finetune": _finetune, "bench": _bench, "run": _run,
                "edition": _edition, "progress": _progress, "mirror": _mirror}
    try:
        return commands[args.command](args)
    except TransferLessonsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def main_exit() -> None:
    """Console-script entry point (``transfer-lessons ...``)."""
    sys.exit(main())

