"""A resumable byte stream below SSH: a dropped carrier is replaced without SSH noticing.

``frames`` and ``stream`` are the pure core (numbering, acknowledgement, replay,
the bound); ``secret`` derives and proves the resumption key; ``transport`` is
the thin I/O layer that asyncssh sees as its asyncio transport.
"""
