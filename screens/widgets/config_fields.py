"""Form fields bound to a dotted config key (`training.learning_rate`), validated by the core.

Every field holds its value as the text a person typed; `RunConfig`'s pydantic model does the
parsing (lax mode turns "5e-4" into a float) and the checking, exactly as for a preset or a
`--set` override, so the TUI can never accept what the CLI would refuse. A field is checked on
its own against the last valid config: whatever fails is then this field's fault.
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Iterable

from textual.validation import ValidationResult, Validator
from textual.widgets import Input, RadioButton, RadioSet, Select

from workbench.config import RunConfig
from workbench.errors import ConfigError
from workbench.presets import validate_config


def with_value(data: dict[str, Any], key: str, raw: Any) -> dict[str, Any]:
    """A copy of `data` with dotted `key` set to `raw`; blank or None means "use the default"."""
    merged = copy.deepcopy(data)
    *sections, name = key.split(".")
    target = merged
    for section in sections:
        target = target.setdefault(section, {})
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        target.pop(name, None)
    else:
        target[name] = raw.strip() if isinstance(raw, str) else raw
    return merged


def config_value(config: RunConfig, key: str) -> Any:
    value: Any = config
    for part in key.split("."):
        value = getattr(value, part)
    return value


def default_text(key: str) -> str:
    """What an empty field means: the config's default for `key`, or `auto` when it has none."""
    from pydantic import BaseModel

    model: type[BaseModel] = RunConfig
    *sections, name = key.split(".")
    for section in sections:
        model = model.model_fields[section].annotation  # type: ignore[assignment]
    field = model.model_fields[name]
    return "auto" if field.is_required() or field.default is None else as_text(field.default)


def as_text(value: Any) -> str:
    """A config value as a person would type it: `5e-05`, `query,value`, `3`."""
    if value is None:
        return ""
    if isinstance(value, list):
        return ",".join(map(str, value))
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


class ConfigValidator(Validator):
    """Checks one field's text by validating `base()` with only that field changed."""

    def __init__(self, key: str, base: Callable[[], dict[str, Any]]) -> None:
        super().__init__()
        self.key = key
        self.base = base

    def validate(self, value: str) -> ValidationResult:
        try:
            validate_config(with_value(self.base(), self.key, value))
        except ConfigError as err:
            return self.failure(err.message, value)
        return self.success()


class ConfigInput(Input):
    """A compact text field for one config key; marked `-invalid` while its value is refused."""

    def __init__(self, key: str, base: Callable[[], dict[str, Any]], *, placeholder: str = "", **kwargs: Any) -> None:
        super().__init__(
            placeholder=placeholder or default_text(key),
            validators=[ConfigValidator(key, base)],
            validate_on=["changed", "submitted"],
            compact=True,
            id=key.replace(".", "-"),
            **kwargs,
        )
        self.key = key

    @property
    def raw(self) -> str:
        return self.value

    def fill(self, value: Any) -> None:
        self.value = as_text(value)


class ConfigSelect(Select[str]):
    """A compact drop-down for one config key; the blank choice (if allowed) means the default.

    A disabled drop-down means "not applicable here" and contributes nothing to the config.
    """

    def __init__(self, key: str, options: Iterable[tuple[str, str]], *, allow_blank: bool = False, prompt: str = "auto", **kwargs: Any) -> None:
        self._choices = list(options)
        super().__init__(self._choices, allow_blank=allow_blank, prompt=prompt, compact=True, id=key.replace(".", "-"), **kwargs)
        self.key = key

    @property
    def raw(self) -> str | None:
        return None if self.value is Select.NULL or self.disabled else str(self.value)

    def set_choices(self, values: Iterable[str]) -> None:
        """Offer `values` (each its own label); the selection becomes blank."""
        self._choices = [(value, value) for value in values]
        self.set_options(self._choices)

    def fill(self, value: Any) -> None:
        if value is None:
            self.value = Select.NULL
            return
        if str(value) not in (option for _, option in self._choices):
            self._choices.append((str(value), str(value)))
            self.set_options(self._choices)
        self.value = str(value)


class MarkedRadioButton(RadioButton):
    """A radio button whose dot is drawn only when on, so the choice shows without colour."""

    @property
    def BUTTON_INNER(self) -> str:  # type: ignore[override]
        return "●" if self.value else " "


class ConfigChoice(RadioSet):
    """A one-line radio set for a config key with a few literal values (`method.kind`)."""

    def __init__(self, key: str, choices: list[tuple[str, str]], value: str, **kwargs: Any) -> None:
        self.key = key
        self.choices = [choice for choice, _ in choices]
        buttons = [MarkedRadioButton(label, value=choice == value, compact=True, id=f"{key.replace('.', '-')}-{choice}") for choice, label in choices]
        super().__init__(*buttons, compact=True, id=key.replace(".", "-"), **kwargs)

    @property
    def raw(self) -> str | None:
        index = self.pressed_index
        return self.choices[index] if index >= 0 else None

    def fill(self, value: Any) -> None:
        if value in self.choices:
            self.query_one(f"#{self.key.replace('.', '-')}-{value}", RadioButton).value = True


#: Widgets with a `key`, a `raw` value and `fill()`: what a config form is made of.
CONFIG_FIELDS = (ConfigInput, ConfigSelect, ConfigChoice)
