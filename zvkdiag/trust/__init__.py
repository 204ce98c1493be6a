"""Engineers verified by the organisation: an SSH certificate authority and its checks."""

from zvkdiag.trust.ca import init_ca, issue, revoke
from zvkdiag.trust.verify import TrustConfig, Verdict, verify_engineer

__all__ = ["TrustConfig", "Verdict", "init_ca", "issue", "revoke", "verify_engineer"]
