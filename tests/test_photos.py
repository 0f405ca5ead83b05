"""Sample photos come from installed packages; top-k is sorted and sums below one."""

import pytest

import transfer_lessons as tl
from transfer_lessons.errors import UnknownName


@pytest.mark.parametrize("name", list(tl.data.SAMPLE_PHOTOS))
def test_sample_photos_load(name):
    image = tl.sample_photo(name)
    assert image.mode == "RGB" and min(image.size) >= 200


def test_unknown_photo():
    with pytest.raises(UnknownName, match="sample photo"):
        tl.sample_photo("dog")


def test_topk_from_path(isolated_assets, tmp_path):
    path = tmp_path / "coffee.jpg"
    tl.sample_photo("coffee").save(path)
    top = tl.predict_topk(tl.create_backbone("efficientnet_lite0"), path, k=3)
    probs = [p for _, p in top]
    assert len(top) == 3 and probs == sorted(probs, reverse=True) and sum(probs) <= 1.0
    assert top[0][0] == "espresso"
