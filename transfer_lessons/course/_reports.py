"""The reports page, ``reports/index.html``: one section per lesson with its status, time, data source (and the
dataset's license and citation), headline results in words, one chart from its report, and every recorded value
rounded to what it means, folded below.

A lesson's headlines are its ``headline.<key>`` records, its data its ``source.<dataset>`` records, and its chart
the image of the cell tagged ``report-figure``; without them the page falls back to the first few values, the
``run`` record's data source, and the report's last image.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

from ..assets import DATASETS
from ..runtime import require

_HIDDEN = ("headline.", "source.", "data_source")  # shown in their own places, not in the table
# Units by the key's first segment: a fraction shown as a percentage, a duration in s, and so on.
_PERCENT = re.compile(r"(^|_)(acc|accuracy|prob|map|map50|map_50|ap|recall|precision|mfu|fraction|top1_prob)($|[._])")
_UNITS = [(re.compile(p), fmt) for p, fmt in [
    (r"(^|_)seconds", "{:.1f} s"), (r"(^|_)ms($|\.)|latency", "{:.2f} ms"), (r"^params_m", "{:.2f} M"),
    (r"gflops", "{:.2f} GFLOP"), (r"^throughput|images_per_s", "{:,.0f} images/s"), (r"^speedup", "{:.2f}×")]]
_STYLE = ("body{font:15px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}"
          "section{border:1px solid #ddd;border-radius:8px;padding:1em 1.2em;margin:1.2em 0;overflow:auto}"
          "h2{margin:.1em 0 .4em;font-size:1.25em}.ok{color:#2e7d32}.failed{color:#c62828}.meta{color:#555}"
          "figure{float:right;margin:0 0 .5em 1.2em;width:340px}figure img{width:100%;border:1px solid #eee}"
          "figcaption{font-size:.8em;color:#666}table{border-collapse:collapse;font-size:.9em}"
          "td,th{border:1px solid #ddd;padding:2px 8px;text-align:left}td.v{text-align:right}"
          "details{clear:both;margin-top:.6em}ul.headlines li{margin:.2em 0}ul.headlines p{margin:0}")


def format_value(key: str, value) -> str:
    """A recorded value in words and units: ``val_acc.full`` 0.93464 → ``93.5%``, ``seconds.x`` → ``12.3 s``."""
    if isinstance(value, bool) or value is None:
        return {True: "yes", False: "no", None: "–"}[value]
    if isinstance(value, (list, tuple)):
        shown = [format_value(key, v) for v in value[:8]]
        return ", ".join(shown) + (f", … ({len(value)} in all)" if len(value) > 8 else "")
    if not isinstance(value, (int, float)):
        return str(value)
    first = key.split(".")[0].lower()
    if _PERCENT.search(first) and -0.001 <= value <= 1.001:
        return f"{value:.1%}"
    for pattern, fmt in _UNITS:
        if pattern.search(first):
            return fmt.format(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:.3g}"


def _flat(metrics: dict, prefix: str = "") -> dict:
    """``{"run": {"profile": "smoke"}}`` → ``{"run.profile": "smoke"}``: no raw dicts on the page."""
    out = {}
    for key, value in metrics.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _from_report(notebook: Path) -> tuple:
    """The report's title (its first ``# `` heading) and chart (base64 PNG, see the module docstring), or None each."""
    if not notebook.is_file():
        return None, None
    cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
    heads = [line[2:] for c in cells if c["cell_type"] == "markdown"
             for line in "".join(c["source"]).splitlines() if line.startswith("# ")]
    code = [c for c in cells if c["cell_type"] == "code"]
    tagged = [c for c in code if "report-figure" in c.get("metadata", {}).get("tags", [])]
    for group in (tagged, code):
        pngs = [o["data"]["image/png"] for c in group for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
        if pngs:
            return heads[0] if heads else None, "".join(pngs[-1]).replace("\n", "")
    return heads[0] if heads else None, None


def _sources(entry: dict, metrics: dict) -> list[str]:
    found = {k.removeprefix("source."): v for k, v in metrics.items() if k.startswith("source.")}
    run = metrics.get("run") if isinstance(metrics.get("run"), dict) else {}
    if not found and (run.get("dataset") or entry.get("data_source")):
        found = {run.get("dataset") or "": entry.get("data_source") or run.get("data_source")}
    rows = []
    for name, how in found.items():
        card = DATASETS.get(name)
        if card is not None and how == "synthetic" and card.synthetic_fallback:  # the stand-in was used
            name, card = f"{name} (not found: {card.synthetic_fallback})", DATASETS[card.synthetic_fallback]
        terms = f" License: {card.license}" + (f" Cite: {card.citation}" if card.citation else "") if card else ""
        if card and not card.synthetic:  # what an instructor may do with the images shown in the reports
            terms += " Copies may be shared, with the citation." if card.shareable else " Copies may not be shared."
        rows.append(f"<b>{html.escape(name or 'data')}</b> from the {html.escape(str(how))}.{html.escape(terms)}")
    return rows


def _duration(seconds) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds // 60:.0f} min {seconds % 60:.0f} s"


def _section(name: str, entry: dict, reports_dir: Path) -> str:
    markdown2html = require("nbconvert.filters", "course", "writing the reports page").markdown2html
    metrics = entry.get("metrics", {})
    flat = {k: v for k, v in _flat(metrics).items() if not k.startswith(_HIDDEN)}
    headlines = [markdown2html(str(v)) for k, v in metrics.items() if k.startswith("headline.")]
    if not headlines:  # fallback: the first few values, in words
        results = [(k, v) for k, v in flat.items() if not k.startswith(("run.", "exercise.", "claim."))]
        headlines = [f"{html.escape(k)}: {html.escape(format_value(k, v))}" for k, v in results[:4]]
    title, image = _from_report(reports_dir / f"{name}.ipynb")
    figure = (f"<figure><img alt='chart from {html.escape(name)}' src='data:image/png;base64,{image}'>"
              f"<figcaption>from the report of {html.escape(name)}</figcaption></figure>") if image else ""
    status = entry["status"]
    error = f" — {html.escape(entry['error'])}" if entry.get("error") else ""
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td class='v'>{html.escape(format_value(k, v))}</td></tr>"
                   for k, v in flat.items())
    return (f"<section id='{html.escape(name)}'>{figure}<h2><a href='{html.escape(name)}.html'>"
            f"{html.escape(title or name)}</a></h2><p class='meta'><b class='{'ok' if status == 'ok' else 'failed'}'>"
            f"{html.escape(status)}</b>{error} · {_duration(entry.get('seconds', 0))}</p>"
            + "".join(f"<p class='meta'>Data: {row}</p>" for row in _sources(entry, metrics))
            + "<ul class='headlines'>" + "".join(f"<li>{h}</li>" for h in headlines) + "</ul>"
            + f"<details><summary>All {len(flat)} recorded values</summary><table>{rows}</table></details></section>")


def index_html(summary: dict, reports_dir) -> str:
    """The reports page for ``summary`` (``reports/summary.json``), with charts read from ``reports_dir``."""
    lessons = summary["lessons"]
    ok = sum(entry["status"] == "ok" for entry in lessons.values())
    versions = ", ".join(f"{k} {v}" for k, v in summary["versions"].items())
    total = _duration(sum(entry.get("seconds", 0) for entry in lessons.values()))
    return ("<!doctype html><meta charset='utf-8'><title>Transfer Lessons — course report</title>"
            f"<style>{_STYLE}</style><h1>Transfer Lessons — course report</h1>"
            f"<p>{ok} of {len(lessons)} lessons ran ({html.escape(summary['profile'])} profile) in {total} on "
            f"<b>{html.escape(summary['device'])}</b>. Versions: {html.escape(versions)}.</p>"
            + "".join(_section(name, entry, Path(reports_dir)) for name, entry in lessons.items()))
