"""Numbers in words and digits (French and English)."""

from __future__ import annotations

import pytest

from consult.extract.numbers import find_numbers
from consult.extract.text import fold


def _nums(text: str) -> list[tuple[float, float | None, str]]:
    return [(n.value, n.value_high, text[n.start : n.end]) for n in find_numbers(fold(text))]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("mille", 1000),
        ("cinq cents", 500),
        ("deux virgule cinq", 2.5),
        ("1,5", 1.5),
        ("1.5", 1.5),
        ("un demi", 0.5),
        ("vingt et un", 21),
        ("dix-sept", 17),
        ("soixante-dix", 70),
        ("quatre-vingt-dix-neuf", 99),
        ("1 000", 1000),
        ("twenty-five", 25),
        ("one hundred and fifty", 150),
        ("deux", 2),
    ],
)
def test_single_number(text: str, value: float) -> None:
    nums = _nums(text)
    assert len(nums) == 1
    assert nums[0][0] == pytest.approx(value)
    assert nums[0][2] == text


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [("un à deux comprimés", 1, 2), ("2-3 fois", 2, 3), ("one or two puffs", 1, 2), ("2 ou 3", 2, 3)],
)
def test_ranges(text: str, low: float, high: float) -> None:
    value, value_high, _ = _nums(text)[0]
    assert (value, value_high) == (low, high)


def test_no_number_in_plain_words() -> None:
    assert _nums("le médecin a dit bonjour") == []


def test_offsets_survive_accents() -> None:
    text = "prenez-en très exactement deux"
    ((value, _, span),) = _nums(text)
    assert value == 2 and span == "deux"


def test_punctuation_ends_a_number_in_words() -> None:
    # "quarante milligrammes au lieu de vingt, un comprimé": 20 then 1, never 21
    assert [v for v, _, _ in _nums("au lieu de vingt, un comprimé")] == [20, 1]
    assert [v for v, _, _ in _nums("vingt et un jours")] == [21]


def test_a_strength_under_one_said_without_virgule() -> None:
    from consult.extract.numbers import find_numbers

    assert [n.value for n in find_numbers("xanax zero vingt-cinq le soir")] == [0.25]
    assert [n.value for n in find_numbers("zero cinq milligramme")] == [0.5]
    assert [n.value for n in find_numbers("zero vingt-cinq, un demi")] == [0.25, 0.5]
    # a phone number goes on right after it: each number stays what it is
    assert [n.value for n in find_numbers("zero six douze trente-quatre")] == [0.0, 6.0, 12.0, 34.0]


def test_a_hundred_and_twenty_five_is_125() -> None:
    from consult.extract.numbers import find_numbers

    # "a hundred and twenty-five micrograms" of levothyroxine was read as 25
    assert [n.value for n in find_numbers("a hundred and twenty-five micrograms")] == [125.0]
    assert [n.value for n in find_numbers("a hundred micrograms")] == [100.0]
    assert [n.value for n in find_numbers("two hundred and fifty")] == [250.0]
