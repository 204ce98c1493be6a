"""The way to the relay: raw TCP, WebSocket over TLS, and both through an HTTP proxy.

Pure parts (no I/O): ``address`` (what the user typed, which routes to try),
``proxy`` (which proxy applies, the CONNECT dialogue). The thin I/O: ``tls``
(contexts), ``wsclient`` (TLS + WebSocket bridged to a loopback socket),
``dial`` (opening one route, racing several). Everything above gets a
connected ``socket.socket``, as it did when raw TCP was the only carrier.
"""
