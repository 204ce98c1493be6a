"""Notebook widgets: connect to a customer, follow their answers, watch their screen.

Importing this package pulls in anywidget and ipywidgets; the customer's side
never does.
"""

from zvkdiag.widgets.connect import ConnectPanel
from zvkdiag.widgets.feed import ConsentFeed

__all__ = ["ConnectPanel", "ConsentFeed"]
