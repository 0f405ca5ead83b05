"""The public API is exactly ``__all__``, and every public name is documented."""

import transfer_lessons as tl


def test_all_equals_public_names():
    public = {n for n in vars(tl) if not n.startswith("_")}
    modules = {n for n in public if type(getattr(tl, n)).__name__ == "module"}
    assert sorted(public - modules) == sorted(tl.__all__)


def test_public_names_have_docstrings():
    undocumented = [n for n in tl.__all__ if callable(getattr(tl, n)) and not getattr(tl, n).__doc__]
    assert not undocumented, f"no docstring: {undocumented}"
