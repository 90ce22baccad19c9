"""The browser chat (Gradio). Needs the ``ui`` extra: ``pip install -e '.[ui]'``.

>>> from assistant.ui import launch      # doctest: +SKIP
>>> launch()                              # doctest: +SKIP
"""

from assistant.ui.app import build_app, launch, start

__all__ = ["build_app", "launch", "start"]
