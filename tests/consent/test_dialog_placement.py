"""Where the consent dialog goes: never over the main window with the ID and password."""

from __future__ import annotations

from zvkdiag.consent.tk_dialog import GAP, place_dialog

SCREEN = (0, 0, 1920, 1080)
DIALOG = (480, 300)


def covers(pos: tuple[int, int], size: tuple[int, int], box: tuple[int, int, int, int]) -> bool:
    (x, y), (w, h) = pos, size
    return x < box[0] + box[2] and box[0] < x + w and y < box[1] + box[3] and box[1] < y + h


def test_centred_when_the_main_window_is_elsewhere() -> None:
    assert place_dialog(DIALOG, SCREEN, (0, 0, 300, 200)) == (720, 260)
    assert place_dialog(DIALOG, SCREEN, None) == (720, 260)


def test_beside_the_main_window_when_centred_would_cover_it() -> None:
    main = (760, 300, 400, 250)  # in the middle, where the dialog would go
    pos = place_dialog(DIALOG, SCREEN, main)
    assert pos == (760 + 400 + GAP, 260)
    assert not covers(pos, DIALOG, main)


def test_left_or_below_when_the_right_is_too_narrow() -> None:
    main = (1300, 200, 600, 300)
    left = place_dialog(DIALOG, SCREEN, (700, 200, 1200, 300))
    assert not covers(left, DIALOG, (700, 200, 1200, 300))
    assert left[0] == 700 - DIALOG[0] - GAP
    wide = (100, 100, 1800, 300)  # neither side fits: below it
    below = place_dialog(DIALOG, SCREEN, wide)
    assert below == (720, 100 + 300 + GAP)
    assert not covers(place_dialog(DIALOG, SCREEN, main), DIALOG, main)


def test_a_monitor_with_no_free_place_still_gets_a_centred_dialog() -> None:
    small = (0, 0, 500, 320)
    assert place_dialog(DIALOG, small, (0, 0, 500, 320)) == (10, 6)


def test_offset_monitors_keep_the_dialog_on_the_primary_one() -> None:
    primary = (1920, 0, 1280, 1024)
    x, y = place_dialog(DIALOG, primary, (2300, 300, 500, 300))
    assert x >= 1920 and x + DIALOG[0] <= 1920 + 1280
    assert y >= 0 and y + DIALOG[1] <= 1024
