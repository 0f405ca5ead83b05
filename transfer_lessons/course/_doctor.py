"""``doctor``: what this machine has for the course — device, versions, and where each backbone's weights,
each dataset and each detector's weights would come from now. Nothing is fetched or hashed.
"""

from __future__ import annotations

from ..assets import WEIGHTS, dataset_status, list_datasets, mirror_summary, weights_status
from ..models import list_backbones
from ..runtime import cache_dir, is_offline, mirror_dir, pick_device, versions


def doctor_report() -> dict:
    """What ``doctor --json`` prints: device, versions, backbones and datasets and their sources."""
    return {
        "device": str(pick_device()),
        "versions": versions(),
        "settings": {"mirror": str(mirror_dir()) if mirror_dir() else None,
                     "cache": str(cache_dir()), "offline": is_offline()},
        "mirror": mirror_summary(mirror_dir()),
        "backbones": {name: weights_status(name) for name in list_backbones()},
        "datasets": {name: dataset_status(name) for name in list_datasets()},
        "detectors": {name: weights_status(name) for name, card in WEIGHTS.items() if card.kind == "detector"},
    }


def print_doctor(report: dict) -> None:
    """``doctor_report``'s dict as the tables ``python -m transfer_lessons doctor`` prints."""
    print(f"device: {report['device']}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()))
    settings = report["settings"]
    print(f"mirror: {settings['mirror'] or '(TRANSFER_LESSONS_DATA not set)'}; cache: "
          f"{settings['cache']}; offline: {settings['offline']}")
    built = report.get("mirror")
    if built and "error" in built:
        print(f"mirror index: {built['error']}")
    elif built:
        print(f"mirror built by `mirror` (updated {built['updated']}): datasets {', '.join(built['datasets']) or '-'}; "
              f"weights {', '.join(built['weights']) or '-'}")
    print("\nbackbone                  offline  available  source")
    for name, info in report["backbones"].items():
        print(f"{name:<25} {str(info['offline']):<8} {str(info['available']):<10} {info['source']}")
    for heading, key in (("dataset", "datasets"), ("detector weights", "detectors")):
        print(f"\n{heading:<25} available  source")
        for name, info in report[key].items():
            print(f"{name:<25} {str(info['available']):<10} {info['source']}")

