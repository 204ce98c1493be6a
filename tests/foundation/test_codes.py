import pytest

from zvkdiag import InvalidCode
from zvkdiag.wire import codes


def test_password_is_readable_and_strong_enough() -> None:
    assert codes.PASSWORD_BITS >= 30
    for bad in "0O1lIio":
        assert bad not in codes.PASSWORD_ALPHABET
    pw = codes.new_password()
    assert len(pw) == codes.PASSWORD_LENGTH and set(pw) <= set(codes.PASSWORD_ALPHABET)


def test_ids_are_nine_digits_grouped_as_read_aloud() -> None:
    sid = codes.new_id()
    assert len(sid) == 9 and sid.isdigit() and sid[0] != "0"
    assert codes.format_id("123456789") == "123 456 789"


@pytest.mark.parametrize("text", ["123 456 789", "123-456-789", "123456789", " 123 456-789 "])
def test_id_accepts_spaces_and_dashes(text: str) -> None:
    assert codes.normalise_id(text) == "123456789"


@pytest.mark.parametrize("text", ["ABCD-EFGH", "abcd efgh", "abcdefgh", "aBcD-eFgH"])
def test_password_accepts_any_case_and_separators(text: str) -> None:
    assert codes.normalise_password(text) == "abcdefgh"


@pytest.mark.parametrize("text", ["12345678", "1234567890", "12345678a", "", "١٢٣٤٥٦٧٨٩"])
def test_bad_ids_are_refused(text: str) -> None:
    with pytest.raises(InvalidCode, match="9 digits"):
        codes.normalise_id(text)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("abcd-efg0", "zero"),
        ("abcdefgo", "never contain o"),
        ("abcdefg", "8 characters"),
        ("abcdefg!", "never uses"),
    ],
)
def test_bad_passwords_are_refused_before_any_try(text: str, why: str) -> None:
    with pytest.raises(InvalidCode, match=why):
        codes.normalise_password(text)
