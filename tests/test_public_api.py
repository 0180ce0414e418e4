from __future__ import annotations

import stagewise


def test_all_is_sorted_and_importable() -> None:
    names = [n for n in stagewise.__all__ if n != "__version__"]
    assert names == sorted(names)
    for name in stagewise.__all__:
        assert hasattr(stagewise, name), name


def test_every_error_is_a_stagewise_error_and_a_builtin() -> None:
    assert issubclass(stagewise.ConfigError, ValueError)
    assert issubclass(stagewise.FeatureMismatchError, stagewise.DataValidationError)
    assert issubclass(stagewise.ArtifactIntegrityError, OSError)
    assert issubclass(stagewise.NotFoundError, LookupError)
    for name in stagewise.__all__:
        obj = getattr(stagewise, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, stagewise.StagewiseError), name
