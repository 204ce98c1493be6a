"""Remote control: the engineer's mouse and keyboard on the customer's screen.

Pure core: ``events`` (the wire form and its bounds), ``keys`` (key positions
and names), ``held`` (what is held down), ``gate`` (customer input wins,
floods are cut, silence releases).  ``injector`` applies events to a backend:
``x11`` (XTEST) or ``win32`` (SendInput), chosen by ``backend.open_backend``.
The agent's op lives in ``zvkdiag.agent.control_ops``, the engineer's handle
in ``zvkdiag.engineer.controlling``.
"""
