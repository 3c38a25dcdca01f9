"""MisconfigurationException: Lightning's name, still caught as the built-in error flashtrain raised before."""

from __future__ import annotations

import pytest

from flashtrain.core.exceptions import MisconfigurationException, MisconfigurationTypeError


def test_misconfiguration_is_a_value_error_and_the_type_variant_a_type_error():
    with pytest.raises(ValueError, match="bad flag"):
        raise MisconfigurationException("bad flag")
    with pytest.raises(MisconfigurationException, match="wrong type"):
        raise MisconfigurationTypeError("wrong type")
    with pytest.raises(TypeError, match="wrong type"):
        raise MisconfigurationTypeError("wrong type")
