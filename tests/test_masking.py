"""Masked subject values: recognisable to those who know the request, identifying to nobody else."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.masking import MASK, mask


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("123", "•••23"),
        ("4070f233-91aa-4c2e-9b1d-2d3b4c5d6e7f", "•••7f"),
        ("ada@example.com", "a•••@•••.com"),
        ("o'brien@mail.example.co.uk", "o•••@•••.uk"),
        ("ab", "•••"),
        ("@handle", "•••le"),
        ("R&D", "•••&D"),
    ],
)
def test_masked_forms(value: str, masked: str) -> None:
    assert mask(value) == masked


@given(st.one_of(st.emails(), st.text(alphabet=st.characters(blacklist_characters="•"), min_size=3, max_size=40)))
def test_a_masked_value_never_holds_the_value(value: str) -> None:
    shown = mask(value)
    visible = shown.replace(MASK, "")
    assert value not in shown
    # at most the last two characters; of an e-mail address, its first letter and its top-level domain
    is_email_form = visible[:1] == value[:1] and visible[1:3] == "@." and value.endswith("." + visible[3:])
    assert (len(visible) <= 2 and value.endswith(visible)) or is_email_form
