"""The project's JupyterLab setup: server settings, and starting a lab for the demo and tests.

``CONFIG_DIR`` is a Jupyter config folder: put it on ``JUPYTER_CONFIG_PATH``
and the server picks up ``jupyter_server_config.json`` (TCP_NODELAY and
permessage-deflate on the kernel websocket, no update checks or news from the internet) and
``labconfig/page_config.json`` (no announcement pop-up).
"""

from pathlib import Path

__all__ = ["CONFIG_DIR"]

CONFIG_DIR = Path(__file__).resolve().parent
