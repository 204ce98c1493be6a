"""Wire protocol v1: pure encoders, decoders and state machines, no sockets.

See docs/protocol.md for one line per message and its bounds.
"""
