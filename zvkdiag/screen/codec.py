"""Pixel encodings of one screen rectangle: JPEG, lossless and XOR-delta.

Pixels are BGRX: four bytes per pixel as X11 delivers them, the fourth byte
carries nothing and the viewer treats every pixel as opaque.

========  ==========================================================  =======
encoding  payload                                                     exact?
========  ==========================================================  =======
JPEG      simplejpeg, quality 75, 4:2:0, encoded straight from BGRX   no
LOSSLESS  zstd of the B, G and R planes (h×w bytes each, in that order) yes
XOR       zstd of the planes of (new XOR what the viewer shows)       yes
COPY      source x u16, y u16: copy that area of the viewer's canvas  yes
PALETTE   raw deflate, one context for the whole stream (sync flush  yes
          per tile) of: cleared u8 | added u16 | added x (B, G, R) |
          form u8 | listed x u8 | pixels (see below)
========  ==========================================================  =======

Measured on a 1080p screen of terminal text: JPEG 274 KB / 4 ms for the
whole frame, zstd of raw BGRX 103 KB / 4.5 ms, PNG 180 KB / 81 ms, lossless
WebP 45 KB / 99 ms.  Splitting into planes first (dropping the unused byte)
makes zstd 2.3× smaller on anti-aliased terminal text at the same speed
(92 KB instead of 216 KB for a 800×760 ``less`` window).  Text is smaller
*and* exact as zstd, photos are smaller as JPEG; the encoder picks per tile.
XOR against an exact tile is all zeros except where something changed, so a
blinking cursor costs a few dozen bytes.
COPY moves what the viewer already shows (a scrolled band, see ``scroll``);
it is applied by the canvas, which has the source pixels.

PALETTE is what ZRLE does for small changes: a rectangle of few colours (a
typed letter, a table cell, a spinner; at most 256 colours) becomes one byte
per pixel, and the deflate context lives as long as the stream (reset by
each keyframe), so a glyph seen in the last 32 KB costs a back-reference
instead of its pixels.  The palette lives as long too (a payload adds the
colours it needs, or clears the palette and starts it again), so equal
pixels are equal bytes in every rectangle.

A rectangle of at most 16 colours lists them (``form`` = their number,
as indices into the stream's palette, in the order they first appear) and
its pixels index that list, packed 1, 2 or 4 bits to a pixel (none for one
colour), each row whole bytes, the first pixel in the high bits: ZRLE's
packed palette.  Listing in order of appearance makes a shape the same
bytes whatever its colours (a spinner's spokes changing shade, a highlighted
row), and packing keeps several frames of an animation inside deflate's
32 KB window, where the previous turn of the spinner is found again
(scenario B's spinner: 25 against 7.7 KB/s).  More colours: ``form`` 0, one
byte per pixel into the stream's palette (a glyph the same bytes in every
rectangle).  ``form`` with bit 7 (``RUNS``) set carries the pixels as runs
instead, count u32 | each run's index u8 | each run's length u8 (1-255),
whenever that is at most half the packed size (a quarter without a list:
text of many colours keeps one glyph the same bytes everywhere; flat areas, a desktop's
first frame: 27 against 37 KB).  ``PaletteEncoder`` (customer) and ``PaletteDecoder``
(viewer) hold the two ends of that context; every PALETTE tile must be
decoded, in order, by the viewer that the encoder's output went to.
Deflate rather than zstd: Python's zlib bounds what one payload may unpack
to (``max_length``), and browsers inflate it natively
(``DecompressionStream("deflate-raw")``).

Decoding is bounded: a payload may never claim more pixels than its
rectangle, and anything malformed raises ``ProtocolError``.
"""

from __future__ import annotations

import enum
import struct
import zlib
from typing import Final

import numpy as np
import numpy.typing as npt
import simplejpeg
import zstandard

from zvkdiag._errors import ProtocolError

__all__ = [
    "JPEG_QUALITY",
    "MAX_COLOURS",
    "Encoding",
    "PaletteDecoder",
    "PaletteEncoder",
    "decode_into",
    "encode_copy",
    "encode_jpeg",
    "encode_lossless",
    "encode_xor",
    "parse_copy",
]

JPEG_QUALITY: Final = 75
ZSTD_LEVEL: Final = 1
DEFLATE_LEVEL: Final = 6
MAX_COLOURS: Final = 256
_RAW_DEFLATE: Final = -15  # wbits: raw deflate, 32 KB window, no header or checksum
_BGRX: Final = np.dtype("<u4")  # a canvas pixel (B, G, R, X bytes) as one word

Pixels = npt.NDArray[np.uint8]


class Encoding(enum.IntEnum):
    """How one rectangle's pixels travel (the number is the wire value)."""

    JPEG = 1
    LOSSLESS = 2
    XOR = 3
    COPY = 4
    PALETTE = 5

    @property
    def exact(self) -> bool:
        """True when the viewer ends up with exactly the customer's pixels."""
        return self is not Encoding.JPEG


_COPY = struct.Struct(">HH")
_PALETTE_HEAD = struct.Struct(">BH")  # palette cleared first (0/1), colours added
LISTED_MAX: Final = 16
_PACKING: Final = ((8, 0), (0, 1), (1, 2), (2, 4), (4, LISTED_MAX))  # bits, most colours listed
RUNS: Final = 0x80  # form bit: indices as runs
_RUN_MAX: Final = 255
# Runs only when they are at most this part of the packed bytes (deflate does the rest);
# text of many colours keeps its bytes per pixel, the same glyph bytes as elsewhere.
RUNS_GAIN: Final = 2
RUNS_GAIN_UNLISTED: Final = 4
_RUN_COUNT = struct.Struct(">I")
_NO_COLOURS: Final = np.zeros(0, np.uint8)
_compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL, write_checksum=False)
_decompressor = zstandard.ZstdDecompressor()


def encode_jpeg(pixels: Pixels, quality: int = JPEG_QUALITY) -> bytes:
    """JPEG of a (h, w, 4) BGRX view; strided views need no copy."""
    return bytes(simplejpeg.encode_jpeg(pixels, quality, "BGRA", "420"))


def encode_lossless(pixels: Pixels) -> bytes:
    """zstd of the B, G, R planes of a (h, w, 4) view."""
    return bytes(_compressor.compress(_planes(pixels)))


def encode_xor(pixels: Pixels, shown: Pixels) -> bytes:
    """zstd of the planes of ``pixels XOR shown``: tiny when few pixels changed.

    All four bytes are XORed and the fourth is dropped afterwards: numpy XORs
    whole pixels ~15x faster than the strided three-byte views (2.5 against
    39 us a tile).
    """
    return bytes(_compressor.compress(_planes(np.bitwise_xor(pixels, shown))))


def _planes(pixels: Pixels) -> bytes:
    return np.ascontiguousarray(pixels[..., :3].transpose(2, 0, 1)).tobytes()


def encode_copy(source_x: int, source_y: int) -> bytes:
    """Payload of a COPY tile: where on the viewer's canvas the pixels come from."""
    return _COPY.pack(source_x, source_y)


class PaletteEncoder:
    """The customer's end of the PALETTE context; ``reset()`` with every keyframe.

    Both ends keep a session palette of up to 256 colours.  A payload adds
    the colours it needs that the palette lacks (or, when they would not fit,
    clears it first), so a colour keeps its index from rectangle to
    rectangle and a glyph is the same bytes wherever it is drawn: the deflate
    context then finds it again (half the bytes of a palette per rectangle,
    on a table of numbers).  ``encode`` sorts the first pixel of each run of
    equal pixels (as 24-bit words; ~35 us for 64×64 text) to find its colours and maps them through
    a 16 MB table indexed by colour (``np.unique(return_inverse=True)`` and
    ``searchsorted`` cost 5-6× more).  One thread only.
    """

    def __init__(self) -> None:
        self._deflate = zlib.compressobj(DEFLATE_LEVEL, zlib.DEFLATED, _RAW_DEFLATE, 9)
        self._index: npt.NDArray[np.uint8] | None = None  # colour -> index (first use)
        self._colours = np.zeros(MAX_COLOURS, np.uint32)  # index -> colour
        self._local = np.zeros(MAX_COLOURS, np.uint8)  # session index -> this rectangle's
        self._count = 0

    def reset(self) -> None:
        self._deflate = zlib.compressobj(DEFLATE_LEVEL, zlib.DEFLATED, _RAW_DEFLATE, 9)
        self._count = 0

    def encode(self, pixels: Pixels) -> bytes | None:
        """One PALETTE payload for a (h, w, 4) BGRX view; None past ``MAX_COLOURS``.

        Advances the context only when it returns a payload.
        """
        words = pixels.view(np.uint32)[..., 0] & 0xFFFFFF  # a new, contiguous array
        flat = words.reshape(-1)
        heads = np.empty(flat.size, np.bool_)  # first pixel of each run: UI has long runs,
        heads[0] = True  # so far fewer values to sort than pixels
        np.not_equal(flat[1:], flat[:-1], out=heads[1:])
        ordered = np.sort(flat[heads])
        first = np.empty(ordered.size, np.bool_)
        first[0] = True
        np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
        colours = ordered[first]
        if colours.size > MAX_COLOURS:
            return None
        if self._index is None:
            self._index = np.zeros(1 << 24, np.uint8)
        index = self._index[colours]
        known = (index < self._count) & (self._colours[index] == colours)
        new = colours[~known]
        cleared = self._count + new.size > MAX_COLOURS
        if cleared:
            self._count, new = 0, colours
        start, self._count = self._count, self._count + new.size
        self._colours[start : self._count] = new
        self._index[new] = np.arange(start, self._count, dtype=np.uint8)
        indices = np.take(self._index, words)  # ``take``: half the time of indexing here
        listed = _NO_COLOURS
        if colours.size <= LISTED_MAX:  # this rectangle's own colours, in order of appearance
            listed = _first_seen(indices.reshape(-1)[heads])
            self._local[listed] = np.arange(listed.size, dtype=np.uint8)
            indices = np.take(self._local, indices)
        form, data = _pixel_form(indices, heads, listed.size)
        body = b"".join(
            (
                _PALETTE_HEAD.pack(cleared, new.size),
                new.astype("<u4").view(np.uint8).reshape(-1, 4)[:, :3].tobytes(),
                bytes((form,)),
                listed.tobytes(),
                data,
            )
        )
        return self._deflate.compress(body) + self._deflate.flush(zlib.Z_SYNC_FLUSH)


class PaletteDecoder:
    """The viewer's end of the PALETTE context; ``reset()`` with every keyframe."""

    def __init__(self) -> None:
        self._inflate = zlib.decompressobj(_RAW_DEFLATE)
        # B, G, R, 255 as one little-endian word: a pixel is written in one gather
        self._colours = np.zeros(MAX_COLOURS, _BGRX)
        self._count = 0

    def reset(self) -> None:
        self._inflate = zlib.decompressobj(_RAW_DEFLATE)
        self._count = 0

    def decode_into(self, payload: bytes, target: Pixels) -> None:
        """Apply one PALETTE payload onto ``target`` (a (h, w, 4) view of the canvas).

        Raises
        ------
        ProtocolError
            Not valid deflate in this context, more or fewer bytes than the
            rectangle holds, more than 256 colours, or an index past the
            palette.  The context is then lost until the next keyframe.
        """
        height, width = target.shape[:2]
        try:
            raw = self._inflate.decompress(payload, _body_limit(height, width))
        except zlib.error as exc:
            raise ProtocolError(f"a palette tile could not be inflated: {exc}") from exc
        if self._inflate.unconsumed_tail:
            raise ProtocolError(f"a palette tile unpacks to more than its {width}x{height} area")
        if len(raw) < _PALETTE_HEAD.size:
            raise ProtocolError("a palette tile is shorter than its header")
        cleared, added = _PALETTE_HEAD.unpack_from(raw)
        count = (0 if cleared else self._count) + added
        if cleared > 1 or count > MAX_COLOURS:
            raise ProtocolError(f"a palette tile makes the palette {count} colours long")
        at = _PALETTE_HEAD.size + 3 * added
        if len(raw) <= at:
            raise ProtocolError("a palette tile is shorter than its header")
        added_colours = np.frombuffer(raw, np.uint8, 3 * added, _PALETTE_HEAD.size)
        words = np.full((added, 4), 255, np.uint8)
        words[:, :3] = added_colours.reshape(added, 3)
        self._colours[count - added : count] = words.view(_BGRX)[:, 0]
        self._count = count
        indices, listed = _indices(memoryview(raw)[at:], height, width)
        lut = self._colours[:count] if listed is None else self._colours[listed]
        if int((indices if listed is None else listed).max(initial=0)) >= count:
            raise ProtocolError(f"a palette tile uses a colour past its {count} colours")
        np.take(lut, indices, out=_words(target), mode="clip")  # indices checked above


def _words(target: Pixels) -> npt.NDArray[np.uint32]:
    """A (h, w, 4) uint8 view as (h, w) little-endian words (the last axis is contiguous)."""
    return target.view(_BGRX)[..., 0]


def _body_limit(height: int, width: int) -> int:
    """The most bytes a PALETTE body for this area may inflate to (runs of one pixel)."""
    head = _PALETTE_HEAD.size + 3 * MAX_COLOURS + 1 + LISTED_MAX
    return head + _RUN_COUNT.size + 2 * height * width


def _pixel_form(
    indices: npt.NDArray[np.uint8], heads: npt.NDArray[np.bool_], listed: int
) -> tuple[int, bytes]:
    """Form byte and indices: packed ``_bits(listed)`` to a pixel, or as runs if far shorter."""
    height, width = indices.shape
    packed_size = height * _row_bytes(width, _bits(listed))
    gain = RUNS_GAIN if listed else RUNS_GAIN_UNLISTED
    if (_RUN_COUNT.size + 2 * int(np.count_nonzero(heads))) * gain >= packed_size:
        return listed, _pack(indices, _bits(listed))  # text: too many runs, known cheaply
    starts = np.flatnonzero(heads)
    lengths = np.diff(starts, append=heads.size)
    pieces = (lengths + _RUN_MAX - 1) // _RUN_MAX
    runs = int(pieces.sum())
    if (_RUN_COUNT.size + 2 * runs) * gain >= packed_size:
        return listed, _pack(indices, _bits(listed))
    values = np.repeat(indices.reshape(-1)[starts], pieces)
    sizes = np.full(runs, _RUN_MAX, np.uint8)
    sizes[np.cumsum(pieces) - 1] = lengths - _RUN_MAX * (pieces - 1)
    return RUNS | listed, _RUN_COUNT.pack(runs) + values.tobytes() + sizes.tobytes()


def _indices(
    body: memoryview, height: int, width: int
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8] | None]:
    """Indices from a body's form byte onwards (see ``_pixel_form``), and the list they index.

    Without a list (None) the indices are the session palette's.
    """
    listed = body[0] & ~RUNS
    if listed > LISTED_MAX:
        raise ProtocolError(f"a palette tile lists {listed} colours of its own")
    if len(body) < 1 + listed:
        raise ProtocolError("a palette tile is shorter than its header")
    data = body[1 + listed :]
    if body[0] & RUNS:
        indices = _unrun(data, height, width)
    elif len(data) == height * _row_bytes(width, _bits(listed)):
        indices = _unpack(data, height, width, _bits(listed))
    else:
        raise ProtocolError(
            f"a palette tile of {len(body)} pixel bytes does not fit a {width}x{height} area"
        )
    if not listed:
        return indices, None
    if int(indices.max()) >= listed:
        raise ProtocolError(f"a palette tile uses a colour past the {listed} it lists")
    return indices, np.frombuffer(body, np.uint8, listed, 1)


def _unrun(data: memoryview, height: int, width: int) -> npt.NDArray[np.uint8]:
    if len(data) < _RUN_COUNT.size:
        raise ProtocolError("a palette tile's runs are shorter than their count")
    (count,) = _RUN_COUNT.unpack_from(data)
    if len(data) != _RUN_COUNT.size + 2 * count:
        raise ProtocolError(f"a palette tile of {count} runs does not fit a {width}x{height} area")
    values = np.frombuffer(data, np.uint8, count, _RUN_COUNT.size)
    lengths = np.frombuffer(data, np.uint8, count, _RUN_COUNT.size + count)
    if int(lengths.sum(dtype=np.int64)) != height * width or not lengths.all():
        raise ProtocolError(f"a palette tile's runs do not fill its {width}x{height} area")
    return np.repeat(values, lengths).reshape(height, width)


def _first_seen(values: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """The distinct values, in the order they first appear."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    first = np.empty(ordered.size, np.bool_)
    first[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    return ordered[first][np.argsort(order[first])]


def _bits(count: int) -> int:
    """Bits per pixel for a rectangle of ``count`` colours (ZRLE's packed palette)."""
    return next(bits for bits, most in _PACKING if count <= most)


def _row_bytes(width: int, bits: int) -> int:
    return -(-width * bits // 8)


def _pack(local: npt.NDArray[np.uint8], bits: int) -> bytes:
    """Rows of ``bits``-bit indices, first pixel in the high bits, each row whole bytes."""
    if bits in (0, 8):
        return local.tobytes() if bits else b""
    height, width = local.shape
    per = 8 // bits
    padded = np.zeros((height, _row_bytes(width, bits) * per), np.uint8)
    padded[:, :width] = local
    grouped = padded.reshape(height, -1, per)
    packed = grouped[..., 0] << (8 - bits)
    for j in range(1, per):
        packed |= grouped[..., j] << (8 - bits * (j + 1))
    return packed.tobytes()


def _unpack(data: memoryview, height: int, width: int, bits: int) -> npt.NDArray[np.uint8]:
    if bits in (0, 8):
        shape = (height, width)
        return np.frombuffer(data, np.uint8).reshape(shape) if bits else np.zeros(shape, np.uint8)
    packed = np.frombuffer(data, np.uint8).reshape(height, -1, 1)
    shifts = np.arange(8 - bits, -1, -bits, dtype=np.uint8)
    local: npt.NDArray[np.uint8] = (packed >> shifts) & np.uint8((1 << bits) - 1)
    return local.reshape(height, -1)[:, :width]


def parse_copy(payload: bytes) -> tuple[int, int]:
    """(source x, source y) of a COPY tile; ProtocolError if malformed."""
    if len(payload) != _COPY.size:
        raise ProtocolError(f"a screen copy tile has {len(payload)} bytes, expected {_COPY.size}")
    x, y = _COPY.unpack(payload)
    return int(x), int(y)


def decode_into(encoding: Encoding, payload: bytes, target: Pixels) -> None:
    """Apply one rectangle's payload onto ``target`` (a (h, w, 4) view of the canvas).

    Raises
    ------
    ProtocolError
        The payload is not valid for this encoding or does not fit the rectangle.
    """
    height, width = target.shape[:2]
    if encoding is Encoding.COPY or encoding is Encoding.PALETTE:
        raise ValueError(f"{encoding.name} tiles need the canvas' state: Canvas.apply does them")
    if encoding is Encoding.JPEG:
        target[...] = _decode_jpeg(payload, height, width)
    else:
        planes = _decompress(payload, height * width * 3).reshape(3, height, width)
        xor = encoding is Encoding.XOR
        pixels = np.empty((height, width, 4), np.uint8)  # whole pixels: 5x faster than
        for channel in range(3):  # ufuncs on the strided three-byte views
            pixels[..., channel] = planes[channel]
        pixels[..., 3] = 0 if xor else 255
        if xor:
            np.bitwise_xor(target, pixels, out=target)
        else:
            target[...] = pixels
    target[..., 3] = 255


def _decode_jpeg(payload: bytes, height: int, width: int) -> Pixels:
    try:
        jpeg_h, jpeg_w, _, _ = simplejpeg.decode_jpeg_header(payload)
        if (jpeg_h, jpeg_w) != (height, width):
            raise ProtocolError(
                f"a JPEG of {jpeg_w}x{jpeg_h} pixels was sent for a {width}x{height} area"
            )
        pixels: Pixels = simplejpeg.decode_jpeg(payload, "BGRA")
    except ValueError as exc:
        raise ProtocolError(f"a screen tile was not a valid JPEG: {exc}") from exc
    return pixels


def _decompress(payload: bytes, size: int) -> Pixels:
    try:
        declared = zstandard.frame_content_size(payload)
        if declared != size:
            raise ProtocolError(f"a screen tile claims {declared} bytes, its area holds {size}")
        raw = _decompressor.decompress(payload, max_output_size=size)
    except zstandard.ZstdError as exc:
        raise ProtocolError(f"a screen tile could not be decompressed: {exc}") from exc
    if len(raw) != size:
        raise ProtocolError(f"a screen tile unpacked to {len(raw)} bytes instead of {size}")
    return np.frombuffer(raw, np.uint8)
