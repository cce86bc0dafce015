"""Organisation names and numbers (pure functions)."""

import pytest

from klynge_rsvp.organisations import clean_org_number, is_valid_org_number, name_key, tidy_name


@pytest.mark.parametrize("number", ["974760673", "937885644", "983971636"])
def test_valid_org_numbers(number):
    assert is_valid_org_number(number)


@pytest.mark.parametrize("number", [
    "974760674",     # wrong check digit
    "97476067",      # too short
    "9747606730",    # too long
    "97476067a",     # not digits
    "",
    "٩٧٤٧٦٠٦٧٣",     # Arabic-Indic digits are digits to Python, not to Brønnøysund
])
def test_invalid_org_numbers(number):
    assert not is_valid_org_number(number)


def test_number_whose_check_digit_would_be_ten_is_invalid():
    # 12345678x: weighted sum 3+4+21+24+25+24+21+16 = 138, 138 % 11 = 6 → check 5.
    assert is_valid_org_number("123456785")
    # Find a prefix with remainder 1 (check digit would be 10): no last digit makes it valid.
    prefix = next(p for p in (f"{n:08d}" for n in range(10_000_000, 10_001_000))
                  if sum(w * int(d) for w, d in zip((3, 2, 7, 6, 5, 4, 3, 2), p, strict=True)) % 11 == 1)
    assert not any(is_valid_org_number(prefix + str(d)) for d in range(10))


def test_clean_org_number():
    assert clean_org_number(" 974 760 673 ") == "974760673"
    assert clean_org_number("974.760.673") == "974760673"


def test_names_fold_case_space_and_unicode_form():
    assert tidy_name("  Bergen   Røde\tKors ") == "Bergen Røde Kors"
    decomposed = "Bergen Ro\u0308de Kors"  # ö written as o + combining diaeresis
    assert name_key(decomposed) == name_key("bergen röde kors")
    assert name_key("Bergen Røde Kors") == name_key(" bergen røde  kors")
    assert name_key("Bergen Røde Kors") != name_key("Bergen Røde Kors Ungdom")
