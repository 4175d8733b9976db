"""The wizard's screens, one per step (Textual widgets only; no system logic)."""

from __future__ import annotations

from .apply import ApplyScreen
from .base import WizardScreen
from .credentials import CredentialsScreen
from .done import DoneScreen
from .gateway import GatewayScreen
from .nut import NutScreen
from .review import ReviewScreen
from .secret import SecretScreen

SCREENS: dict[str, type[WizardScreen]] = {
    "gateway": GatewayScreen,
    "credentials": CredentialsScreen,
    "nut": NutScreen,
    "secret": SecretScreen,
    "review": ReviewScreen,
    "apply": ApplyScreen,
    "done": DoneScreen,
}

__all__ = ["SCREENS", "WizardScreen"]
