"""The exception tree: one root, built-in bases where a Python user expects them."""

import pytest

from transfer_lessons import errors


def test_tree():
    assert issubclass(errors.ChecksumMismatch, errors.AssetError)
    assert issubclass(errors.OfflineAssetMissing, errors.AssetError)
    assert issubclass(errors.UnsafeArchive, errors.AssetError)
    assert issubclass(errors.BadImage, errors.DataError)
    assert issubclass(errors.DataError, ValueError)
    assert issubclass(errors.UnknownName, KeyError)
    assert issubclass(errors.NonFiniteLoss, FloatingPointError)
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.TransferLessonsError)


def test_checksum_message_names_file_and_fix():
    err = errors.ChecksumMismatch("/data/x.zip", "a" * 64, "b" * 64)
    assert "/data/x.zip" in str(err) and "aaaaaaaaaaaa" in str(err) and "delete it" in str(err)


def test_unknown_name_message_is_not_quoted():
    err = errors.UnknownName("dataset", "hymenopteraa", ["hymenoptera", "pennfudan"], "list_datasets()")
    assert str(err) == "Unknown dataset 'hymenopteraa'. Did you mean 'hymenoptera'? See list_datasets()."
    with pytest.raises(KeyError):
        raise err
