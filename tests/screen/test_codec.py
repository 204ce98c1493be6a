"""Tile encodings and the frame/control wire format: round trips and bad input."""

from __future__ import annotations

import contextlib
import struct
import zlib

import numpy as np
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from zvkdiag._errors import ProtocolError
from zvkdiag.screen.codec import (
    RUNS,
    Encoding,
    PaletteDecoder,
    PaletteEncoder,
    decode_into,
    encode_copy,
    encode_jpeg,
    encode_lossless,
    encode_xor,
    parse_copy,
)
from zvkdiag.screen.frames import (
    MAX_FRAME_BYTES,
    Control,
    ControlKind,
    Frame,
    Tile,
    decode_control,
    decode_frame,
    encode_control,
    encode_frame,
)

from .scenes import photo_patch, text_screen


def blank(h: int, w: int) -> np.ndarray:
    return np.zeros((h, w, 4), np.uint8)


def test_lossless_round_trip_is_exact() -> None:
    pixels = text_screen(64, 64)
    target = blank(64, 64)
    decode_into(Encoding.LOSSLESS, encode_lossless(pixels), target)
    assert np.array_equal(target[..., :3], pixels[..., :3])
    assert (target[..., 3] == 255).all()


def test_xor_applies_the_change_onto_what_is_shown() -> None:
    before = text_screen(64, 64, seed=3)
    after = before.copy()
    after[20:36, 30:32, :3] = 0  # a text cursor appears
    shown = before.copy()
    decode_into(Encoding.XOR, encode_xor(after, before), shown)
    assert np.array_equal(shown[..., :3], after[..., :3])


def test_blinking_cursor_is_tiny_as_xor() -> None:
    before = text_screen(64, 64, seed=4)
    after = before.copy()
    after[20:36, 30:32, :3] = 0
    assert len(encode_xor(after, before)) < 150


def test_jpeg_round_trip_is_close_and_sized() -> None:
    patch = photo_patch(64, 96)
    target = blank(64, 96)
    decode_into(Encoding.JPEG, encode_jpeg(patch), target)
    error = np.abs(target[..., :3].astype(int) - patch[..., :3].astype(int)).mean()
    assert error < 20


def test_jpeg_from_a_strided_view_matches_a_copy() -> None:
    screen = photo_patch(128, 192)
    view = screen[64:128, 64:192]
    assert encode_jpeg(view) == encode_jpeg(np.ascontiguousarray(view))


def test_jpeg_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(ProtocolError, match="JPEG of 32x32"):
        decode_into(Encoding.JPEG, encode_jpeg(photo_patch(32, 32)), blank(64, 64))


def test_garbage_payloads_are_protocol_errors() -> None:
    for encoding in (Encoding.JPEG, Encoding.LOSSLESS, Encoding.XOR):
        with pytest.raises(ProtocolError):
            decode_into(encoding, b"\x00garbage\xff" * 3, blank(8, 8))
    with pytest.raises(ProtocolError, match="copy tile has 3 bytes"):
        parse_copy(b"abc")


def test_copy_source_outside_the_screen_is_refused() -> None:
    tile = Tile(0, 0, 64, 64, Encoding.COPY, encode_copy(50, 0))
    with pytest.raises(ProtocolError, match="copy source"):
        decode_frame(encode_frame(Frame(1, 100, 100, 0.0, False, (tile,))))


def test_zstd_claiming_more_than_the_tile_is_refused_before_unpacking() -> None:
    bomb = zstandard.ZstdCompressor().compress(bytes(64 * 64 * 4 * 100))
    with pytest.raises(ProtocolError, match="claims"):
        decode_into(Encoding.LOSSLESS, bomb, blank(64, 64))


def sample_frame() -> Frame:
    tiles = (
        Tile(0, 0, 64, 64, Encoding.LOSSLESS, encode_lossless(text_screen(64, 64))),
        Tile(64, 0, 96, 64, Encoding.JPEG, encode_jpeg(photo_patch(64, 96))),
        Tile(0, 64, 10, 6, Encoding.XOR, encode_xor(blank(6, 10), blank(6, 10))),
    )
    return Frame(7, 200, 100, 1_700_000_000.25, True, tiles)


def test_frame_round_trip() -> None:
    frame = sample_frame()
    assert decode_frame(encode_frame(frame)) == frame


def test_frame_header_is_small() -> None:
    frame = Frame(1, 1920, 1080, 0.0, False, ())
    assert len(encode_frame(frame)) < 32


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b: b[:10], "truncated screen frame header"),
        (lambda b: b"XX" + b[2:], "not a v1 screen frame"),
        (lambda b: b[:2] + b"\x09" + b[3:], "not a v1 screen frame"),
        (lambda b: b[:-1], "shorter than its tiles"),
        (lambda b: b + b"\x00", "trailing bytes"),
        (lambda b: b[:30], "tile table"),
    ],
)
def test_malformed_frames_raise(mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ProtocolError, match=message):
        decode_frame(mutate(encode_frame(sample_frame())))


def test_tile_outside_the_screen_is_refused() -> None:
    frame = Frame(1, 100, 100, 0.0, True, (Tile(90, 0, 64, 64, Encoding.LOSSLESS, b"x"),))
    with pytest.raises(ProtocolError, match="outside 100x100"):
        decode_frame(encode_frame(frame))


def test_unknown_encoding_is_refused() -> None:
    blob = bytearray(encode_frame(sample_frame()))
    blob[26 + 8] = 99  # the first tile's encoding byte
    with pytest.raises(ProtocolError, match="unknown screen tile encoding 99"):
        decode_frame(bytes(blob))


def test_oversized_frame_is_refused_unread() -> None:
    with pytest.raises(ProtocolError, match="exceeds"):
        decode_frame(bytes(MAX_FRAME_BYTES + 1))


def test_screen_size_out_of_bounds_is_refused() -> None:
    blob = bytearray(encode_frame(Frame(1, 10, 10, 0.0, True, ())))
    struct.pack_into(">H", blob, 12, 0)  # width 0
    with pytest.raises(ProtocolError, match="out of bounds"):
        decode_frame(bytes(blob))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_never_raise_anything_but_protocol_error(blob: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        decode_frame(b"ZS\x01" + blob)


def test_controls_round_trip() -> None:
    for control in (Control(ControlKind.ACK, 2**40), Control(ControlKind.PAUSE)):
        assert decode_control(encode_control(control)) == control


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"ZC\x01\x01",
        b"XX\x01\x01" + bytes(8),
        b"ZC\x02\x01" + bytes(8),
        b"ZC\x01\x09" + bytes(8),
    ],
)
def test_malformed_controls_raise(blob: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode_control(blob)


# -- PALETTE: the session-long deflate context ----------------------------------------------


def glyph_cell(seed: int) -> np.ndarray:
    """A 9×16 character cell: black glyph on white, two grey anti-aliasing shades."""
    rng = np.random.default_rng(seed)
    cell = np.full((16, 9, 4), 255, np.uint8)
    cell[..., :3] = rng.choice(
        np.array([0, 96, 192, 255], np.uint8), (16, 9, 1), p=[0.2, 0.1, 0.1, 0.6]
    )
    return cell


def test_palette_round_trip_is_exact_and_remembers_what_it_saw() -> None:
    encoder, decoder = PaletteEncoder(), PaletteDecoder()
    sizes = []
    for seed in (1, 2, 1, 2, 1):  # the same two glyphs again and again
        cell = glyph_cell(seed)
        payload = encoder.encode(cell)
        assert payload is not None
        shown = blank(16, 9)
        decoder.decode_into(payload, shown)
        assert np.array_equal(shown[..., :3], cell[..., :3]) and (shown[..., 3] == 255).all()
        sizes.append(len(payload))
    assert sizes[2] < sizes[0] / 3 and sizes[4] < sizes[0] / 3  # a back-reference, not the glyph


def test_palette_decodes_strided_views_onto_the_canvas() -> None:
    screen = text_screen(64, 96, seed=4)
    encoder, decoder = PaletteEncoder(), PaletteDecoder()
    canvas = blank(64, 96)
    payload = encoder.encode(screen[8:40, 10:70])
    assert payload is not None
    decoder.decode_into(payload, canvas[8:40, 10:70])
    assert np.array_equal(canvas[8:40, 10:70, :3], screen[8:40, 10:70, :3])


def test_more_than_256_colours_are_no_palette_and_leave_the_context_alone() -> None:
    encoder, decoder = PaletteEncoder(), PaletteDecoder()
    assert encoder.encode(photo_patch(32, 32)) is None
    cell = glyph_cell(3)
    payload = encoder.encode(cell)
    assert payload is not None
    shown = blank(16, 9)
    decoder.decode_into(payload, shown)  # still in step with the encoder
    assert np.array_equal(shown[..., :3], cell[..., :3])


def test_colours_keep_their_index_so_a_glyph_is_the_same_bytes_everywhere() -> None:
    encoder, decoder = PaletteEncoder(), PaletteDecoder()
    glyph = glyph_cell(6)
    other = glyph.copy()
    other[..., :3] = np.where(other[..., :3] == 96, 0, other[..., :3])  # one shade fewer
    sizes = []
    for cell in (glyph, other, glyph, other):
        payload = encoder.encode(cell)
        assert payload is not None
        shown = blank(16, 9)
        decoder.decode_into(payload, shown)
        assert np.array_equal(shown[..., :3], cell[..., :3])
        sizes.append(len(payload))
    assert sizes[3] < sizes[1] / 3  # a subset of the colours: the same indices as before


def test_a_palette_that_would_overflow_is_cleared_and_started_again() -> None:
    encoder, decoder = PaletteEncoder(), PaletteDecoder()
    for start in range(0, 1024, 200):  # 200 new colours each time: more than 256 in all
        cell = blank(10, 20)
        cell[..., 0] = (np.arange(200).reshape(10, 20) + start) % 256
        cell[..., 1] = (np.arange(200).reshape(10, 20) + start) // 256
        payload = encoder.encode(cell)
        assert payload is not None
        shown = blank(10, 20)
        decoder.decode_into(payload, shown)
        assert np.array_equal(shown[..., :3], cell[..., :3])


def test_a_reset_on_both_ends_starts_afresh() -> None:
    encoder = PaletteEncoder()
    first = encoder.encode(glyph_cell(5))
    assert first is not None
    encoder.reset()
    again = encoder.encode(glyph_cell(5))
    assert again == first  # nothing remembered across the reset
    late = PaletteDecoder()  # a viewer that joins at the reset
    shown = blank(16, 9)
    late.decode_into(again, shown)
    assert np.array_equal(shown[..., :3], glyph_cell(5)[..., :3])


def round_trip(encoder: PaletteEncoder, decoder: PaletteDecoder, pixels: np.ndarray) -> bytes:
    payload = encoder.encode(pixels)
    assert payload is not None
    shown = blank(*pixels.shape[:2])
    decoder.decode_into(payload, shown)
    assert np.array_equal(shown[..., :3], pixels[..., :3]) and (shown[..., 3] == 255).all()
    return payload


@pytest.mark.parametrize("colours", [1, 2, 3, 4, 5, 16, 17, 40])
@pytest.mark.parametrize("width", [1, 7, 9, 64])
def test_packed_and_listed_colours_round_trip(colours: int, width: int) -> None:
    """1, 2 and 4 bits a pixel, rows that end inside a byte, and more than 16 colours."""
    rng = np.random.default_rng(colours * 100 + width)
    shades = rng.choice(256 * 256, colours, replace=False)
    picture = blank(11, width)
    pick = shades[np.arange(11 * width).reshape(11, width) % colours]
    rng.shuffle(pick.reshape(-1))
    picture[..., 0], picture[..., 1] = pick % 256, pick // 256
    encoder, decoder = PaletteEncoder(), PaletteDecoder()
    for _ in range(2):  # the second time every colour is known already
        round_trip(encoder, decoder, picture)


def test_flat_areas_travel_as_runs_even_past_255_pixels() -> None:
    picture = blank(40, 700)
    picture[..., :3] = 200
    picture[10:12, 3:650, 1] = 7  # one run of 647 pixels, one of 1400 across rows
    encoder, decoder = PaletteEncoder(), PaletteDecoder()
    payload = round_trip(encoder, decoder, picture)
    assert zlib.decompressobj(-15).decompress(payload)[3 + 6] & RUNS  # form after 2 colours


def spinner(turn: int) -> np.ndarray:
    """Twelve spokes of fixed shape whose twelve shades move round one step a turn."""
    picture = blank(160, 160)
    picture[..., :3] = 250
    yy, xx = np.mgrid[-80:80, -80:80]
    angle = ((np.arctan2(yy, xx) + np.pi) / (2 * np.pi) * 12).astype(int) % 12
    ring = (np.hypot(yy, xx) > 30) & (np.hypot(yy, xx) < 75)
    spoke = ring & (np.modf((np.arctan2(yy, xx) + np.pi) / (2 * np.pi) * 12)[0] < 0.4)
    shade = 60 + 15 * ((angle - turn) % 12)
    picture[spoke, 0] = picture[spoke, 1] = shade[spoke]
    return picture


def test_a_shape_in_moved_colours_costs_a_back_reference() -> None:
    """A spinner's next step is the same spokes in other shades: its own colours, listed in
    the order they appear, make the pixels the same bytes as the step before."""
    encoder, decoder = PaletteEncoder(), PaletteDecoder()
    sizes = [len(round_trip(encoder, decoder, spinner(turn))) for turn in range(6)]
    assert max(sizes[1:]) < sizes[0] / 8


def palette_body(
    count: int, indices: np.ndarray, cleared: int = 1, listed: bytes = b"", runs: bool = False
) -> bytes:
    colours = (np.arange(3 * count) % 256).astype(np.uint8).tobytes()
    form = bytes((len(listed) | (RUNS if runs else 0),))
    head = struct.pack(">BH", cleared, count) + colours + form + listed
    return head + indices.astype(np.uint8).tobytes()


def deflated(body: bytes) -> bytes:
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)
    return packer.compress(body) + packer.flush(zlib.Z_SYNC_FLUSH)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"\xff\xfe\xfd garbage", "could not be inflated"),
        (deflated(palette_body(2, np.zeros((4, 5)))), "does not fit"),  # 20 pixels for 4×4
        (deflated(palette_body(2, np.zeros((4, 3)))), "does not fit"),  # 12 pixels for 4×4
        (deflated(palette_body(2, np.full((4, 4), 2))), "past its 2 colours"),
        (deflated(b"\x00" * 5000), "more than its 4x4 area"),  # a deflate bomb stops early
        (b"", "shorter than its header"),
        (deflated(palette_body(2, np.zeros((4, 4)), cleared=2)), "colours long"),
        (deflated(palette_body(2, np.zeros(4), listed=bytes(17))), "lists 17 colours"),
        (deflated(palette_body(2, np.zeros(8), listed=b"\x00\x01")), "does not fit"),  # 1 bit
        (deflated(palette_body(2, np.full(4, 0xF0), listed=b"\x00\x01\x01")), "the 3 it lists"),
        (deflated(palette_body(2, np.full(4, 0x80), listed=b"\x00\x05")), "past its 2 colours"),
        (deflated(palette_body(2, np.array([0, 0, 1]), runs=True)), "runs are shorter"),
        (deflated(palette_body(2, np.array([0, 0, 0, 2, 0, 0, 8, 7]), runs=True)), "do not fill"),
        (deflated(palette_body(2, np.array([0, 0, 0, 2, 0, 0, 16, 0]), runs=True)), "do not fill"),
        (deflated(palette_body(2, np.array([0, 0, 0, 2, 0, 0, 16]), runs=True)), "2 runs"),
    ],
)
def test_bad_palette_payloads_are_protocol_errors(payload: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        PaletteDecoder().decode_into(payload, blank(4, 4))


def test_a_palette_past_256_colours_is_a_protocol_error() -> None:
    payload = deflated(palette_body(257, np.zeros((4, 4))))
    with pytest.raises(ProtocolError, match="257 colours long"):
        PaletteDecoder().decode_into(payload, blank(8, 8))


def test_palette_payloads_need_the_canvas() -> None:
    with pytest.raises(ValueError, match="PALETTE"):
        decode_into(Encoding.PALETTE, b"", blank(4, 4))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(1, 40), st.integers(1, 40), st.integers(1, 300), st.integers(0, 2**32 - 1)
        ),
        min_size=1,
        max_size=6,
    )
)
def test_any_sequence_of_palette_rectangles_decodes_exactly(
    rects: list[tuple[int, int, int, int]],
) -> None:
    """Packed, listed, unlisted, runs, a palette cleared on the way: one context, exact."""
    encoder, decoder = PaletteEncoder(), PaletteDecoder()
    for height, width, colours, seed in rects:
        rng = np.random.default_rng(seed)
        shades = rng.integers(0, 1 << 24, colours)
        runs = rng.integers(1, 60, height * width)  # long and short runs of one colour
        pick = np.repeat(rng.choice(shades, runs.size), runs)[: height * width]
        picture = blank(height, width)
        for channel in range(3):
            picture.reshape(-1, 4)[: pick.size, channel] = pick >> (8 * channel)
        payload = encoder.encode(picture)
        if payload is not None:
            shown = blank(height, width)
            decoder.decode_into(payload, shown)
            assert np.array_equal(shown[..., :3], picture[..., :3])
