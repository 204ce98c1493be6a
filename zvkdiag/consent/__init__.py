"""Consent: what the engineer may ask for, how the customer is asked, and in which words."""

from zvkdiag.consent.model import (
    AgentControl,
    AgentEvent,
    CodeIssued,
    ConsentRequest,
    ConsentUI,
    Decision,
    EngineerMessage,
    FailedTry,
    Scope,
    SessionEnded,
    SessionStarted,
)

__all__ = [
    "AgentControl",
    "AgentEvent",
    "CodeIssued",
    "ConsentRequest",
    "ConsentUI",
    "Decision",
    "EngineerMessage",
    "FailedTry",
    "Scope",
    "SessionEnded",
    "SessionStarted",
]
