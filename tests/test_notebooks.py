"""The lessons, executed: the smoke course runs offline with the network blocked, every recorded
metric is asserted, solutions pass their checks, and nbval re-checks deterministic outputs."""

import io
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Optional, Union

import nbformat
import pytest
from conftest import REPO, SHARED_DATA, http_server

NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS = sorted((REPO / "notebooks" / "solutions").glob("*.ipynb"))
NETBLOCK = REPO / "tests" / "netblock"
CAT_LABELS = ("tabby, tabby cat", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat")
SMOKE_SECONDS = 90  # the budget for one lesson in the smoke profile


def _check_00_tour(m):
    assert m["top1.chelsea"] in CAT_LABELS, f"chelsea labelled {m['top1.chelsea']!r}, expected a cat"
    assert 0.2 < m["top1_prob.chelsea"] <= 1.0, f"top-1 probability {m['top1_prob.chelsea']}"
    assert m["top1.coffee"] == "espresso", m["top1.coffee"]
    assert m["hand_vs_helper_same_ranking"] is True
    assert m["offline_backbones"] >= 3


def _check_01_backbone_selection(m):
    from transfer_lessons.models import get_card

    lites = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")
    compared = sorted({k.split(".", 1)[1] for k in m if k.startswith("latency_ms.")})
    assert set(lites) <= set(compared), f"compared {compared}, expected at least {lites}"
    random = m["probe_acc.random_init"]
    assert 0 <= random <= 1, random
    for name in compared:
        for key in ("probe_acc", "knn_acc", "latency_ms", "params_m", "gflops"):
            assert f"{key}.{name}" in m, f"{key}.{name} not recorded; recorded: {sorted(m)}"
        assert 0 <= m[f"probe_acc.{name}"] <= 1 and 0 <= m[f"knn_acc.{name}"] <= 1
        assert m[f"probe_acc.{name}"] > random, f"{name} probe {m[f'probe_acc.{name}']} <= random init {random}"
        assert m[f"latency_ms.{name}"] > 0 and m[f"gflops.{name}"] > 0
        card = get_card(name).params_m
        assert m[f"params_m.{name}"] == pytest.approx(card, rel=0.02), f"{m[f'params_m.{name}']} M != card {card} M"
    zero_shot = m["zero_shot_acc"]
    assert zero_shot is None or 0 <= zero_shot <= 1, zero_shot
    run = m["run"]  # the runner moves data_source out of the metrics; the lesson records it here too
    if run["data_source"] == "mirror":  # real hymenoptera: ants and bees are ImageNet classes
        assert zero_shot is not None
        profile = run["profile"]
        if profile == "cpu":  # the bounds on the full data
            assert m["probe_acc.efficientnet_lite0"] >= 0.90, m["probe_acc.efficientnet_lite0"]
            for name in compared:
                assert m[f"probe_acc.{name}"] >= random + 0.2, f"{name}: {m[f'probe_acc.{name}']} vs random {random}"
        elif profile == "smoke":  # 16 val images at 128 px; measured 0.75
            assert m["probe_acc.efficientnet_lite0"] >= 0.6, m["probe_acc.efficientnet_lite0"]


STRATEGIES = ("scratch", "linear_probe", "partial", "full", "discriminative")


def _check_02_fine_tuning(m):
    for name in STRATEGIES:
        assert 0 <= m[f"val_acc.{name}"] <= 1 and m[f"seconds.{name}"] > 0, (name, m.get(f"val_acc.{name}"))
    best = m["best_strategy"]
    assert best in STRATEGIES[1:], f"best_strategy {best!r} should be a pretrained strategy"
    assert m[f"val_acc.{best}"] == max(m[f"val_acc.{n}"] for n in STRATEGIES[1:])
    percents = sorted(int(k.rsplit(".", 1)[1]) for k in m if k.startswith("data_efficiency.pretrained."))
    assert len(percents) >= 3 and percents[-1] == 100, percents
    for label in ("pretrained", "scratch"):
        for pct in percents:
            key = f"data_efficiency.{label}.{pct}"
            assert 0 <= m[key] <= 1, f"{key} missing or out of range"
    assert m["data_efficiency.pretrained.100"] == m[f"val_acc.{best}"], "the 100% point should be the strategy run"
    assert m["data_efficiency.scratch.100"] == m["val_acc.scratch"]
    assert m["val_acc.bn_frozen"] == m["val_acc.partial"] and 0 <= m["val_acc.bn_train"] <= 1
    assert m["resume_max_param_diff"] <= 1e-6, f"resumed run differs from uninterrupted: {m['resume_max_param_diff']}"
    run = m["run"]
    if run["data_source"] != "mirror":
        return
    if run["profile"] == "smoke":  # the issue: pretrained beats scratch even on 16 images
        assert m[f"val_acc.{best}"] > m["val_acc.scratch"], (m[f"val_acc.{best}"], m["val_acc.scratch"])
    else:  # cpu and gpu: the bounds on real hymenoptera
        assert m[f"val_acc.{best}"] >= 0.95, f"best pretrained strategy {best}: {m[f'val_acc.{best}']} < 0.95"
        assert m["val_acc.full"] - m["val_acc.scratch"] >= 0.25, (m["val_acc.full"], m["val_acc.scratch"])
        assert m["data_efficiency.pretrained.25"] > m["data_efficiency.scratch.100"]


DETECTION_VARIANTS = ("pretrained", "frozen_backbone", "scratch")


def _check_03_detection(m):
    for key in ("map50.pretrained", "map.pretrained", "map75.pretrained", "map50.scratch", "map.scratch",
                "map50.frozen_backbone"):
        assert 0 <= m[key] <= 1, f"{key} = {m.get(key)}"
    for name in DETECTION_VARIANTS:
        assert m[f"train_seconds.{name}"] > 0, name
    latency = {k: v for k, v in m.items() if k.startswith("latency_ms.")}
    assert len(latency) >= 4 and all(v > 0 for v in latency.values()), latency
    assert f"latency_ms.fasterrcnn_{m['run']['backbone']}_{m['run']['min_size']}px" in latency, sorted(latency)
    run = m["run"]
    if run["data_source"] != "mirror":
        return
    assert m["map50.pretrained"] >= m["map50.scratch"], (m["map50.pretrained"], m["map50.scratch"])
    if run["profile"] == "smoke":
        return
    # cpu and gpu: real PennFudan, full test split
    assert m["map.pretrained"] <= m["map50.pretrained"], "AP averaged over stricter IoUs cannot beat AP50"
    assert m["train_seconds.frozen_backbone"] < m["train_seconds.pretrained"], "a frozen backbone has no backward pass"
    if run["profile"] == "cpu":  # the bounds: 2 cores, 256 px, 3 epochs
        assert m["map50.pretrained"] >= 0.75, m["map50.pretrained"]
        assert m["map50.pretrained"] - m["map50.scratch"] >= 0.3, (m["map50.pretrained"], m["map50.scratch"])
    else:  # gpu
        assert m["map50.pretrained"] >= 0.95 and m["map.pretrained"] >= 0.60, (m["map50.pretrained"],
                                                                                m["map.pretrained"])


SPEED_RUNGS = ("baseline", "cached_data", "workers", "channels_last", "bf16", "fp16", "compile", "batch_size")


def _check_04_optimization(m):
    run = m["run"]
    assert m["throughput.baseline"] > 0 and m["throughput.cached_data"] > 0, "baseline and cache are always timed"
    for name in SPEED_RUNGS:  # every rung is timed or skipped with its reason, never both
        timed, skipped = f"throughput.{name}" in m, f"skipped.{name}" in m
        assert timed != skipped, f"{name}: timed {timed}, skipped {skipped}"
        if timed:
            assert m[f"throughput.{name}"] > 0 and 0 < m[f"mfu.{name}"] < 1, (name, m[f"mfu.{name}"])
            assert m[f"speedup.{name}"] == pytest.approx(m[f"throughput.{name}"] / m["throughput.baseline"])
        else:
            reason = m[f"skipped.{name}"]
            assert isinstance(reason, str) and reason.startswith("skipped"), reason
    assert m["speedup.baseline"] == pytest.approx(1.0) and m["peak_gflops"] > 0
    if run["device"] == "cpu":
        assert "skipped.fp16" in m, "fp16 with a GradScaler needs CUDA"
    for key in ("single_best", "ensemble", "tta", "mixup", "int8"):
        assert 0 <= m[f"val_acc.{key}"] <= 1, f"val_acc.{key} = {m.get(f'val_acc.{key}')}"
    members = [v for k, v in m.items() if k.startswith("val_acc.efficientnet_")]
    assert len(members) >= 2 and m["val_acc.single_best"] == max(members), members
    assert 0 < m["size_mb.int8"] <= 0.5 * m["size_mb.fp32"], (m["size_mb.int8"], m["size_mb.fp32"])
    assert m["latency_ms.fp32"] > 0 and m["latency_ms.int8"] > 0
    # DDP: 2 processes x 16 images = 1 process x 32, up to float rounding (measured 2.2e-5 after the
    # demo's 4 full fine-tuning steps of efficientnet_lite0, 1e-7 for the smoke profile's tiny net)
    assert m["ddp.max_param_diff"] <= 1e-4, m["ddp.max_param_diff"]
    assert m["ddp.val_acc"] == pytest.approx(m["single.val_acc"], abs=1 / 64), (m["ddp.val_acc"], m["single.val_acc"])
    if run["data_source"] != "mirror" or run["profile"] == "smoke":
        return
    # cpu and gpu: real hymenoptera, every validation image
    assert abs(m["val_acc.int8"] - m["val_acc.single_best"]) <= 0.02, (m["val_acc.int8"], m["val_acc.single_best"])
    assert m["val_acc.single_best"] >= 0.85, m["val_acc.single_best"]
    if run["profile"] == "cpu":
        # The issue asks for >= 2, which holds where decoding dominates the step. On 2 CPU cores at
        # 160 px the frozen backbone's forward pass dominates: measured 1.11-1.53 in four runs
        # (decoding 10-35 % of the baseline's time, timings of 10 steps), so only "the cache is not
        # slower" is asserted here.
        assert m["speedup.cached_data"] >= 1.0, m["speedup.cached_data"]
    else:  # gpu: the model's step is cheap, decoding a JPEG on one CPU core is not (expected, not yet measured)
        assert m["speedup.cached_data"] >= 2, m["speedup.cached_data"]


def _check_05_robustness(m):
    from transfer_lessons.evaluation import CORRUPTIONS

    keys = ["clean_acc", "detector_auc", "ece.before", "ece.after", "adv_trained.clean_acc", "adv_trained.pgd_acc",
            *(f"fgsm_acc.{e}_255" for e in (1, 2, 4, 8)), *(f"pgd_acc.{e}_255" for e in (1, 2, 4)),
            *(f"corruption_acc.{name}" for name in CORRUPTIONS)]
    for key in keys:
        assert 0 <= m[key] <= 1, f"{key} = {m.get(key)}"
    assert m["unsafe_pickle_blocked"] is True, "torch.load(weights_only=True) should refuse the crafted pickle"
    assert m["temperature"] > 0
    run = m["run"]
    if run["data_source"] != "mirror" or run["profile"] == "smoke":
        return
    # cpu and gpu: the bounds on real hymenoptera
    assert m["clean_acc"] - m["pgd_acc.4_255"] >= 0.3, (m["clean_acc"], m["pgd_acc.4_255"])
    assert m["detector_auc"] >= 0.85, m["detector_auc"]
    assert m["ece.after"] < m["ece.before"], (m["ece.before"], m["ece.after"])
    if run["profile"] == "cpu":
        # At 128 px a short adversarial fine-tune keeps a few images (2-4 of 48) against PGD where the
        # standard model keeps none. At the gpu profile's 224 px, 10 epochs of it measured 0.0 = 0.0
        # against 10-step PGD on an H100: no gain to assert there (lesson 05 says why).
        assert m["adv_trained.pgd_acc"] > m["pgd_acc.4_255"], (m["adv_trained.pgd_acc"], m["pgd_acc.4_255"])


# Every lesson must say how its recorded metrics are checked (see test_every_lesson_is_checked).
CHECKS = {"00_tour": _check_00_tour, "01_backbone_selection": _check_01_backbone_selection,
          "02_fine_tuning": _check_02_fine_tuning, "03_detection": _check_03_detection,
          "04_optimization": _check_04_optimization, "05_robustness": _check_05_robustness}
# Whole-lesson time budgets per profile (the issues' bounds), for reports of `make course`.
BUDGET_SECONDS = {"cpu": {"02_fine_tuning": 360, "03_detection": 480, "04_optimization": 240, "05_robustness": 180}}


def _offline_env(tmp: Path, mirror: Union[bool, Path] = True) -> dict:
    """Fresh cache, network refused inside the kernels (tests/netblock) but for 127.0.0.1, and as the
    mirror: the folder given, ../shared/data (True, when present) or none (False)."""
    env = {**os.environ, "TRANSFER_LESSONS_CACHE": str(tmp / "cache"), "TRANSFER_LESSONS_HEADLESS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(NETBLOCK), os.environ.get("PYTHONPATH")]))}
    env.pop("TRANSFER_LESSONS_OFFLINE", None)  # refused sockets alone must be enough
    env.pop("TRANSFER_LESSONS_DATA", None)
    if isinstance(mirror, Path):
        env["TRANSFER_LESSONS_DATA"] = str(mirror)
    elif mirror and (SHARED_DATA / "hymenoptera_data").is_dir():
        env["TRANSFER_LESSONS_DATA"] = str(SHARED_DATA)
    return env


def _zip_folder(folder: Path) -> bytes:
    """``folder`` as a zip archive in memory, with ``folder.name/`` as its top folder."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, f"{folder.name}/{path.relative_to(folder).as_posix()}")
    return buffer.getvalue()


def _mirror_from_archives(tmp: Path) -> Optional[Path]:
    """The classroom round trip on the real data: ../shared/data's datasets zipped, served on
    127.0.0.1, and fetched with ``python -m transfer_lessons mirror`` (with the offline backbones'
    weights) into a new mirror, which the smoke course then uses alone. None without the real data."""
    if not (SHARED_DATA / "hymenoptera_data").is_dir():
        return None
    from transfer_lessons.assets import DATASETS
    from transfer_lessons.models import list_backbones

    present = [card for card in DATASETS.values() if card.url and (SHARED_DATA / card.folder).is_dir()]
    with http_server() as server:  # the COCO detector's weights are not on this machine: no --detectors
        for card in present:
            server.files["/" + card.url.rsplit("/", 1)[-1]] = _zip_folder(SHARED_DATA / card.folder)
        result = subprocess.run([sys.executable, "-m", "transfer_lessons", "mirror", str(tmp / "mirror"),
                                 "--base-url", server.url, "--datasets", *[card.name for card in present],
                                 "--backbones", *list_backbones(offline_only=True), "--detectors"],
                                cwd=REPO, env=_offline_env(tmp, mirror=False), capture_output=True, text=True,
                                timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "fetched" in result.stdout and "failed" not in result.stdout, result.stdout
    return tmp / "mirror"


@pytest.fixture(scope="module")
def smoke_course(tmp_path_factory):
    """The whole course in the smoke profile, network blocked, on a mirror built by the mirror command."""
    tmp = tmp_path_factory.mktemp("course")
    mirror = _mirror_from_archives(tmp)
    result = subprocess.run([sys.executable, "-m", "transfer_lessons", "run", "--profile", "smoke",
                             "--out", str(tmp / "reports")], cwd=REPO, env=_offline_env(tmp, mirror or False),
                            capture_output=True, text=True, timeout=1500)
    summary_path = tmp / "reports" / "summary.json"
    assert summary_path.exists(), result.stdout + result.stderr
    return result, json.loads(summary_path.read_text()), tmp / "reports", mirror


def test_netblock_really_blocks(tmp_path):
    code = "import urllib.request\ntry:\n urllib.request.urlopen('https://download.pytorch.org/', timeout=5)\n" \
           "except OSError as e:\n print('refused:', e)\n"
    out = subprocess.run([sys.executable, "-c", code], env=_offline_env(tmp_path), capture_output=True,
                         text=True, timeout=60).stdout
    assert "network blocked by tests/netblock" in out


@pytest.mark.notebook
@pytest.mark.timeout(1600)
def test_smoke_course_all_ok(smoke_course):
    result, summary, reports, _ = smoke_course
    assert summary["profile"] == "smoke"
    statuses = {name: entry["status"] for name, entry in summary["lessons"].items()}
    assert statuses == {nb.stem: "ok" for nb in NOTEBOOKS}, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.returncode == 0
    assert (reports / "index.html").exists()
    for name, entry in summary["lessons"].items():
        assert entry["seconds"] <= SMOKE_SECONDS, f"{name} took {entry['seconds']} s in smoke (> {SMOKE_SECONDS})"


@pytest.mark.notebook
@pytest.mark.parametrize("lesson", [nb.stem for nb in NOTEBOOKS])
def test_lesson_metrics(smoke_course, lesson):
    entry = smoke_course[1]["lessons"][lesson]
    assert entry["status"] == "ok", entry.get("error")
    CHECKS[lesson](entry["metrics"])
    expected_source = {"mirror", "package"} if (SHARED_DATA / "hymenoptera_data").is_dir() else {"synthetic", "package"}
    assert entry["data_source"] in expected_source, entry["data_source"]
    attempts = {k: v for k, v in entry["metrics"].items() if k.startswith("exercise.")}
    assert len(attempts) >= 3 and set(attempts.values()) == {"not attempted"}, attempts


@pytest.mark.notebook
@pytest.mark.timeout(300)
def test_corrupt_mirror_file_stops_a_lesson_with_its_name(smoke_course, tmp_path):
    mirror = smoke_course[3]
    if mirror is None:
        pytest.skip(f"real-data mirror not found at {SHARED_DATA}: no mirror was built")
    victim = sorted((mirror / "hymenoptera_data" / "val" / "bees").glob("*.jpg"))[0]
    original = victim.read_bytes()
    victim.write_bytes(original[:-10])
    try:
        check = subprocess.run([sys.executable, "-m", "transfer_lessons", "mirror", str(mirror), "--check"],
                               cwd=REPO, capture_output=True, text=True, timeout=120)
        assert check.returncode == 1 and f"hymenoptera_data/val/bees/{victim.name}: corrupt" in check.stdout
        subprocess.run([sys.executable, "-m", "transfer_lessons", "run", "--profile", "smoke", "--lessons", "01",
                        "--out", str(tmp_path / "reports")], cwd=REPO, env=_offline_env(tmp_path, mirror),
                       capture_output=True, text=True, timeout=280)
        entry = json.loads((tmp_path / "reports" / "summary.json").read_text())["lessons"]["01_backbone_selection"]
        assert entry["status"] == "failed", entry
        assert "ChecksumMismatch" in entry["error"] and victim.name in entry["error"], entry["error"]
        assert f"transfer_lessons mirror {mirror}" in entry["error"], entry["error"]
    finally:
        victim.write_bytes(original)


@pytest.mark.notebook
@pytest.mark.parametrize("lesson", [nb.stem for nb in NOTEBOOKS])
def test_lesson_shows_figures(smoke_course, lesson):
    executed = nbformat.read(smoke_course[2] / f"{lesson}.ipynb", as_version=4)
    images = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs
              if "image/png" in o.get("data", {})]
    assert images, f"{lesson} displayed no figure"


def test_course_reports_meet_their_bounds():
    """`make course PROFILE=cpu` (or gpu) writes reports/summary.json; its metrics must meet the bounds."""
    path = REPO / "reports" / "summary.json"
    if not path.is_file():
        pytest.skip("no reports/summary.json: run `make course PROFILE=cpu` to check the cpu bounds")
    summary = json.loads(path.read_text())
    if summary["profile"] == "smoke":
        pytest.skip("reports/ holds a smoke run; the smoke bounds are checked by test_lesson_metrics")
    checked = [name for name, entry in summary["lessons"].items() if entry["status"] == "ok" and name in CHECKS]
    assert checked, f"no lesson ran ok in {path}"
    for name in checked:
        entry = summary["lessons"][name]
        CHECKS[name]({**entry["metrics"], "run": {**entry["metrics"].get("run", {}), "profile": summary["profile"]}})
        budget = BUDGET_SECONDS.get(summary["profile"], {}).get(name)
        assert budget is None or entry["seconds"] <= budget, f"{name}: {entry['seconds']:.0f} s > {budget} s"


def test_every_lesson_is_checked():
    assert sorted(CHECKS) == [nb.stem for nb in NOTEBOOKS]


@pytest.mark.parametrize("notebook", NOTEBOOKS + SOLUTIONS, ids=lambda p: p.stem)
def test_notebook_structure(notebook):
    nb = nbformat.read(notebook, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", []) and "PROFILE" in code[0].source
    for cell in code:
        assert len(cell.source.splitlines()) <= 15, f"code cell over 15 lines:\n{cell.source}"
        assert not re.search(r"^\s*[!%](pip|wget|curl|git)\b|git clone|urlretrieve|requests\.get",
                             cell.source, re.M), cell.source
        assert not re.search(r"['\"](/home|/work|/Users|[A-Z]:\\\\)", cell.source), f"hard-coded path: {cell.source}"
    if notebook in NOTEBOOKS:
        text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        for heading in ("Objectives", "Time", "Prerequisites", "## Summary", "## Exercises", "## References"):
            assert heading in text, f"{notebook.name} lacks {heading!r}"
        assert (REPO / "notebooks" / "solutions" / f"{notebook.stem}_solutions.ipynb").exists()


@pytest.mark.notebook
@pytest.mark.timeout(600)
@pytest.mark.parametrize("notebook", SOLUTIONS, ids=lambda p: p.stem)
def test_solutions_pass_their_checks(notebook, tmp_path):
    import papermill

    from transfer_lessons.recording import read_records

    env = _offline_env(tmp_path)
    out = tmp_path / notebook.name
    old = dict(os.environ)
    os.environ.update(env)
    try:
        papermill.execute_notebook(str(notebook), str(out), parameters={"PROFILE": "smoke"},
                                   cwd=str(notebook.parent), progress_bar=False, kernel_name="python3")
    finally:
        os.environ.clear()
        os.environ.update(old)
    results = {k: v for k, v in read_records(out).items() if k.startswith("exercise.")}
    assert len(results) >= 3 and set(results.values()) == {"passed"}, results


@pytest.mark.notebook
@pytest.mark.timeout(600)
def test_nbval_deterministic_outputs(tmp_path):
    env = {**_offline_env(tmp_path), "TRANSFER_LESSONS_PROFILE": "smoke"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
         "--nbval-sanitize-with", str(REPO / "tests" / "nbval_sanitize.cfg"), *map(str, NOTEBOOKS)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=580)
    assert result.returncode == 0, result.stdout[-4000:]
    assert re.search(r"\d+ passed", result.stdout)
