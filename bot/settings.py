"""Settings from the environment, named exactly as DESIGN.md's contract names them.

A malformed value stops start-up with one line naming the variable and what it expects
(``SettingsError``); which variables must be present depends on the command, so presence is
checked by ``require`` rather than by the model.
"""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from bot.schedule import VerifyAt, WeeklyAt, parse_verify_at

_APPROVER_ID = re.compile(r"^[UWS][A-Z0-9]{2,}$")
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*s\s*$")
_SECRET_FIELDS = {
    "slack_bot_token",
    "slack_signing_secret",
    "slack_app_token",
    "langsmith_api_key",
    "purgebot_hmac_key",
    "purgebot_intake_token",
    "purgebot_intake_key",
}
_IDENTITY_TYPE = re.compile(r"^[A-Za-z0-9_.:-]+$")


class SettingsError(Exception):
    """A setting is missing or malformed; the message is one line naming the variable."""


class Rate:
    """At most ``calls`` calls in any ``per`` seconds, written ``<calls>/<seconds>s`` (e.g. ``15/10s``)."""

    def __init__(self, calls: int, per: float) -> None:
        self.calls = calls
        self.per = per

    def __repr__(self) -> str:
        return f"{self.calls}/{self.per:g}s"

    def as_tuple(self) -> tuple[int, float]:
        return (self.calls, self.per)


def _parse_rate(value: Any) -> Any:
    if isinstance(value, Rate):
        return value
    match = _RATE.match(str(value))
    if not match or int(match.group(1)) < 1 or float(match.group(2)) <= 0:
        raise ValueError(f"expected <calls>/<seconds>s such as 15/10s (got {value!r})")
    return Rate(int(match.group(1)), float(match.group(2)))


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"expected an http(s) URL (got {value!r})")
    return value


class Settings(BaseSettings):
    """Every variable of DESIGN.md's Environment table, plus PORT and the LangSmith rates."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True, arbitrary_types_allowed=True)

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    langsmith_api_key: SecretStr | None = None
    langsmith_endpoint: str = "https://api.smith.langchain.com"
    langsmith_workspace_id: UUID | None = None
    purgebot_db: Path = Path("./purgebot.db")
    purgebot_approvers: Annotated[tuple[str, ...], NoDecode] = ()
    purgebot_notify_channel: str | None = None
    purgebot_timezone: Annotated[ZoneInfo, NoDecode] = ZoneInfo("UTC")
    purgebot_verify_at: Annotated[VerifyAt, NoDecode] = WeeklyAt(weekday=0, at=time(9, 0))
    purgebot_delete_concurrency: int = Field(4, ge=1, le=32)
    purgebot_metadata_delete: bool = True
    purgebot_deadline_days: int = Field(30, ge=1, le=3650)
    purgebot_approval_ttl_days: int = Field(7, ge=1, le=365)
    purgebot_evidence_retention_days: int = Field(365, ge=1, le=36500)
    purgebot_hmac_key: SecretStr | None = None
    purgebot_show_values: Literal["masked", "full"] = "masked"
    purgebot_workspaces_file: Path | None = None
    purgebot_langsmith_query_api: Literal["auto", "v1", "v2"] = "auto"
    purgebot_langsmith_lookback_days: int = Field(400, ge=1, le=36500)
    purgebot_langsmith_query_rate: Annotated[Rate, NoDecode] = Rate(10, 10.0)  # v1 runs/query
    purgebot_langsmith_v2_query_rate: Annotated[Rate, NoDecode] = Rate(300, 10.0)  # v2 runs/query
    purgebot_langsmith_call_rate: Annotated[Rate, NoDecode] = Rate(1000, 10.0)
    purgebot_log_level: Literal["debug", "info", "warning", "error"] = "info"
    purgebot_intake_token: SecretStr | None = None
    purgebot_intake_key: Annotated[tuple[SecretStr, ...], NoDecode] = ()
    purgebot_intake_channel: str | None = None
    purgebot_identity_map: Annotated[tuple[tuple[str, str], ...], NoDecode] = ()
    port: int = Field(3000, ge=1, le=65535)

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xoxb-"):
            raise ValueError("expected a bot token starting with xoxb-")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xapp-"):
            raise ValueError("expected an app-level token starting with xapp-")
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _slack_url(cls, value: str) -> str:
        return _http_url(value).rstrip("/") + "/"

    @field_validator("langsmith_endpoint")
    @classmethod
    def _langsmith_url(cls, value: str) -> str:
        return _http_url(value).rstrip("/")

    @field_validator("purgebot_approvers", mode="before")
    @classmethod
    def _approvers(cls, value: Any) -> tuple[str, ...]:
        items = [item.strip() for item in value.split(",")] if isinstance(value, str) else list(value)
        items = [item for item in items if item]
        for item in items:
            if not _APPROVER_ID.match(item):
                raise ValueError(
                    f"expected comma-separated Slack user IDs (U…/W…) or user-group IDs (S…), got {item!r}"
                )
        return tuple(dict.fromkeys(items))

    @field_validator("purgebot_intake_token")
    @classmethod
    def _intake_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("expected a bearer token of at least 16 characters (a long random string)")
        return value

    @field_validator("purgebot_intake_key", mode="before")
    @classmethod
    def _intake_key(cls, value: Any) -> tuple[SecretStr, ...]:
        """Comma-separated Fernet keys, the sealing one first (:mod:`bot.vault`); never echoed back."""
        given = value.split(",") if isinstance(value, str) else list(value)
        keys = [SecretStr(key.strip()) if isinstance(key, str) else key for key in given]
        keys = [key for key in keys if key.get_secret_value()]
        for position, key in enumerate(keys, start=1):
            try:
                Fernet(key.get_secret_value())
            except ValueError:
                raise ValueError(
                    f"key {position} is not a Fernet key (32 random bytes in URL-safe base64, 44 characters; "
                    "the README shows how to make one)"
                ) from None
        return tuple(keys)

    @field_validator("purgebot_identity_map", mode="before")
    @classmethod
    def _identity_map(cls, value: Any) -> tuple[tuple[str, str], ...]:
        """``type=key,…``: which metadata key a platform's identity type is searched as (one key per type)."""
        if not isinstance(value, str):
            return tuple(value)
        mapped: dict[str, str] = {}
        for item in (piece.strip() for piece in value.split(",")):
            if not item:
                continue
            kind, equals, key = (part.strip() for part in item.partition("="))
            if not equals or not _IDENTITY_TYPE.match(kind) or not _IDENTITY_TYPE.match(key):
                raise ValueError(
                    f"expected comma-separated identity=metadata_key pairs such as email=user_email, got {item!r}"
                )
            if kind in mapped:
                raise ValueError(f"the identity type {kind!r} is mapped twice")
            mapped[kind] = key
        return tuple(mapped.items())

    @field_validator("purgebot_notify_channel", "purgebot_intake_channel")
    @classmethod
    def _channel(cls, value: str | None) -> str | None:
        if value is not None and not _CHANNEL_ID.match(value):
            raise ValueError(f"expected a Slack channel ID such as C0123ABCD, got {value!r}")
        return value

    @field_validator("purgebot_timezone", mode="before")
    @classmethod
    def _timezone(cls, value: Any) -> ZoneInfo:
        if isinstance(value, ZoneInfo):
            return value
        try:
            return ZoneInfo(str(value))
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"expected an IANA time zone name such as Europe/Berlin, got {value!r}") from None

    @field_validator("purgebot_verify_at", mode="before")
    @classmethod
    def _verify_at(cls, value: Any) -> VerifyAt:
        return value if not isinstance(value, str) else parse_verify_at(value)

    @field_validator("purgebot_metadata_delete", mode="before")
    @classmethod
    def _on_off(cls, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text not in ("on", "off"):
            raise ValueError(f"expected on or off, got {value!r}")
        return text == "on"

    @field_validator("purgebot_langsmith_query_api", "purgebot_show_values", "purgebot_log_level", mode="before")
    @classmethod
    def _lowercase(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator(
        "purgebot_langsmith_query_rate",
        "purgebot_langsmith_v2_query_rate",
        "purgebot_langsmith_call_rate",
        mode="before",
    )
    @classmethod
    def _rate(cls, value: Any) -> Any:
        return _parse_rate(value)

    @property
    def shows_values(self) -> bool:
        """``PURGEBOT_SHOW_VALUES=full``: subject values appear unmasked in what the bot says in Slack."""
        return self.purgebot_show_values == "full"

    def langsmith_rates(self) -> tuple[tuple[int, float], tuple[int, float], tuple[int, float]]:
        """(v1 queries, v2 queries, all calls) per window, which every LangSmith key is held to."""
        return (
            self.purgebot_langsmith_query_rate.as_tuple(),
            self.purgebot_langsmith_v2_query_rate.as_tuple(),
            self.purgebot_langsmith_call_rate.as_tuple(),
        )

    def require(self, command: str, *names: str) -> None:
        """Stop with one line when a variable that ``command`` needs is unset or empty."""
        missing = [name for name in names if _is_blank(getattr(self, name.lower()))]
        if missing:
            raise SettingsError(f"{', '.join(missing)} must be set for `purgebot {command}`")


class IsolatedSettings(Settings):
    """Settings from keyword arguments only: the demo and the tests ignore the environment."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def _is_blank(value: object) -> bool:
    if isinstance(value, SecretStr):
        return not value.get_secret_value()
    return value is None or value == "" or value == ()


def load_settings(*, isolated: bool = False, **overrides: Any) -> Settings:
    """Read the environment (overridden by keyword arguments; ignored when ``isolated``) or raise
    a one-line ``SettingsError``."""
    try:
        return (IsolatedSettings if isolated else Settings)(**overrides)
    except ValidationError as error:
        first = error.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "settings"
        message = str(first["msg"]).removeprefix("Value error, ")
        if field not in _SECRET_FIELDS and first["type"] not in ("value_error",) and "input" in first:
            message = f"{message} (got {first['input']!r})"
        raise SettingsError(f"{field.upper()}: {message}") from None
