"""The wizard's answer rules (``rules.py``) as Textual validators: one rule set for the
screens and for ``--non-interactive``; each carries its own failure text."""

from __future__ import annotations

from textual.validation import ValidationResult, Validator

from ..rules import Rule, rules_for


class RuleValidator(Validator):
    """A `Rule` that an Input checks; the rule's failure text is the validator's."""

    def __init__(self, rule: Rule) -> None:
        super().__init__()
        self.rule = rule

    def validate(self, value: str) -> ValidationResult:
        """Success, or a failure carrying the rule's text."""
        failure = self.rule.failure(value)
        return self.success() if failure is None else self.failure(failure, value)


def validators_for(name: str, *extra: Rule) -> list[Validator]:
    """The validators of one answer (Answers field name), then `extra` rules."""
    return [RuleValidator(rule) for rule in (*rules_for(name), *extra)]


def first_failure(result: ValidationResult | None) -> str | None:
    """The first failure's text of a validation (None: valid, or nothing to validate)."""
    if result is None or result.is_valid:
        return None
    return next((d for d in result.failure_descriptions if d), "not valid")
