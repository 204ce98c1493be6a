"""Every built-in op in one registry: the only module that imports all the op modules."""

from __future__ import annotations

from zvkdiag.agent import builtin_ops, control_ops, files, probe_ops, screen_ops
from zvkdiag.agent.ops import OpRegistry

__all__ = ["default_ops"]


def default_ops() -> OpRegistry:
    registry = OpRegistry()
    for module in (builtin_ops, files, probe_ops, screen_ops, control_ops):
        module.register_all(registry)
    return registry
