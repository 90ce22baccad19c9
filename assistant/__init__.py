"""Multilingual question answering with numbered citations.

>>> from assistant import answer, retrieve                       # doctest: +SKIP
>>> r = answer("Что строит Казахстан вместо стен?")               # doctest: +SKIP
>>> r.answer, r.citations[0].source                               # doctest: +SKIP
"""

from assistant.core import Assistant, answer, default_assistant, reset_default, retrieve
from assistant.errors import AssistantError, ConfigError, CorpusError, UsageError
from assistant.records import Answer, Citation, Document, IndexReport, ModelInfo, Passage, Status
from assistant.settings import Settings, load_settings

__all__ = [
    "Answer",
    "Assistant",
    "AssistantError",
    "Citation",
    "ConfigError",
    "CorpusError",
    "Document",
    "IndexReport",
    "ModelInfo",
    "Passage",
    "Settings",
    "Status",
    "UsageError",
    "answer",
    "default_assistant",
    "load_settings",
    "reset_default",
    "retrieve",
]
