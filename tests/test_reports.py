"""The reports page (course layer): values in units, headlines, data sources with their terms, one chart per lesson."""

import base64

import nbformat

from transfer_lessons.course import format_value, index_html

PNG = base64.b64encode(b"\x89PNG fake").decode()


def test_values_are_rounded_to_what_they_mean():
    cases = [("val_acc.full", 0.9346405193696614, "93.5%"), ("top1_prob.chelsea", 0.4, "40.0%"),
             ("map50.coco_detector", 0.61234, "61.2%"), ("seconds.lesson", 12.345, "12.3 s"),
             ("latency_ms.lite0", 4.21987, "4.22 ms"), ("params_m.lite0", 3.37123, "3.37 M"),
             ("throughput.cached", 1234.5, "1,234 images/s"), ("speedup.amp", 1.2345, "1.23×"),
             ("offline_backbones", 3, "3"), ("resume_max_param_diff", 1.234e-07, "1.23e-07"),
             ("claim.wins", True, "yes"), ("gflops.lite0", [0.4, 0.61], "0.40 GFLOP, 0.61 GFLOP"),
             ("best_strategy", "full", "full"), ("detector_auc", None, "–")]
    for key, value, shown in cases:
        assert format_value(key, value) == shown, (key, value, format_value(key, value), shown)


def _report(path, tagged: bool):
    cells = [nbformat.v4.new_markdown_cell("# Lesson 07 — Testing\n\nText."),
             nbformat.v4.new_code_cell("plot()"), nbformat.v4.new_code_cell("plot2()")]
    for cell, data in zip(cells[1:], ("TAGGED", "LAST")):
        cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": data + PNG})]
    if tagged:
        cells[1].metadata["tags"] = ["report-figure"]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)


def test_page_has_headlines_sources_chart_and_a_folded_table(tmp_path):
    _report(tmp_path / "07_test.ipynb", tagged=True)
    _report(tmp_path / "08_plain.ipynb", tagged=False)
    metrics = {"headline.gap": "Fine-tuning wins by **48 points**: 95.4% vs 45.8%.", "source.hymenoptera": "mirror",
               "val_acc.full": 0.9346405193696614, "run": {"profile": "smoke", "data_source": "mirror"},
               "exercise.iou": "not attempted"}
    summary = {"profile": "smoke", "device": "cpu", "versions": {"torch": "2.x"}, "lessons": {
        "07_test": {"status": "ok", "seconds": 185.2, "data_source": "mirror", "metrics": metrics},
        "08_plain": {"status": "failed", "seconds": 3.0, "error": "ZeroDivisionError: boom", "data_source": "synthetic",
                     "metrics": {"run": {"dataset": "pennfudan", "data_source": "synthetic"}, "x": 0.123456}}}}
    page = index_html(summary, tmp_path)
    first, second = page.split("<section")[1:]
    assert "Lesson 07 — Testing" in first and "<strong>48 points</strong>" in first and "3 min 5 s" in first
    assert "hymenoptera</b> from the mirror" in first and "License: No license file" in first
    assert "Chilamkurthy" in first and "Copies may not be shared." in first, "the dataset card's citation and terms"
    assert f"base64,TAGGED{PNG}" in first and "LAST" not in first, "the report-figure cell's chart"
    assert "<td>val_acc.full</td><td class='v'>93.5%</td>" in first and "0.9346" not in first
    assert "{" not in first.split("</style>")[-1] and "<td>run.profile</td><td class='v'>smoke</td>" in first, \
        "no raw dicts: the run record is flattened"
    assert "<details>" in first and "headline.gap</td>" not in first
    assert f"base64,LAST{PNG}" in second, "without a tag, the last image"
    assert "ZeroDivisionError: boom" in second and "class='failed'" in second
    assert "pennfudan (not found: synthetic_detection)</b> from the synthetic" in second, second
    assert "<li>x: 0.123</li>" in second, "without headlines, the first results stand in"
    assert "1 of 2 lessons ran" in page
