"""The customer's program, composed: ``zvkdiag quicksupport`` and the one-file ``zvk-quicksupport``.

The agent (``zvkdiag.agent``) and the UI pieces (``zvkdiag.consent``) know
nothing of each other's threads, of the per-user folder or of the build;
this room puts them together: one window per user (``single``), an audit log
that survives damage (``auditfile``), the relay and CA key built in at build
time (``builtin``), and the same options for both entry points (``options``).

The entry point is ``zvkdiag.quicksupport.main.main``.
"""
