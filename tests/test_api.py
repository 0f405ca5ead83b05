"""The public API: every public namespace's ``__all__`` is exactly what it offers, documented, and small at the top."""

import importlib
import inspect
import pkgutil
from types import ModuleType

import pytest

import transfer_lessons as tl

NAMESPACES = [tl, tl.errors, tl.runtime, tl.assets, tl.models, tl.data, tl.evaluation, tl.training,
              importlib.import_module("transfer_lessons.training.distributed"), tl.speed, tl.recording, tl.plots,
              tl.widgets, tl.exercises, tl.course]


def _offered(namespace: ModuleType) -> set:
    """Public names a namespace offers: for a subpackage, what its __init__ takes from its own modules
    (functions, classes and UPPER_CASE constants); for a plain module, what it defines itself."""
    package, names = hasattr(namespace, "__path__"), set()
    for name, value in vars(namespace).items():
        if name.startswith("_") or isinstance(value, ModuleType):
            continue
        home = getattr(value, "__module__", None) if inspect.isclass(value) or inspect.isfunction(value) else None
        if home == namespace.__name__ or (package and home and home.startswith(namespace.__name__ + ".")):
            names.add(name)
        elif package and home is None and name.isupper():  # a table, a name, a number
            names.add(name)
    return names


@pytest.mark.parametrize("namespace", NAMESPACES, ids=lambda ns: ns.__name__)
def test_all_is_exactly_what_the_namespace_offers(namespace):
    offered, exported = _offered(namespace), set(namespace.__all__)
    assert len(namespace.__all__) == len(exported), f"{namespace.__name__}.__all__ lists a name twice"
    assert exported == offered, (f"{namespace.__name__}: exported but not offered {sorted(exported - offered)}; "
                                 f"offered but not exported {sorted(offered - exported)}")


@pytest.mark.parametrize("namespace", NAMESPACES, ids=lambda ns: ns.__name__)
def test_every_public_name_is_documented(namespace):
    undocumented = [n for n in namespace.__all__ if callable(getattr(namespace, n))
                    and not (getattr(namespace, n).__doc__ or "").strip()]
    assert not undocumented, f"{namespace.__name__}: no docstring: {undocumented}"
    assert (namespace.__doc__ or "").strip(), f"{namespace.__name__} has no docstring saying what it holds"


def test_the_top_level_is_small_and_every_subpackage_is_public_or_private():
    assert len(tl.__all__) <= 40, f"{len(tl.__all__)} top-level names (bound 40)"
    for info in pkgutil.walk_packages(tl.__path__, "transfer_lessons."):
        leaf = info.name.rsplit(".", 1)[1]
        public = leaf in {"errors", "distributed", "__main__"} or info.ispkg
        assert public or leaf.startswith("_"), f"{info.name}: a module that is not public must be _private"
        if info.ispkg:
            assert any(ns.__name__ == info.name for ns in NAMESPACES), f"{info.name} is not checked here"
