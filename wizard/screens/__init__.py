"""The wizard's screens, one per step (Textual widgets only; no system logic)."""

from __future__ import annotations

from .apply import ApplyScreen
from .base import Frame, WizardScreen
from .credentials import CredentialsScreen
from .done import DoneScreen
from .gateway import GatewayScreen
from .nut import NutScreen
from .review import ReviewScreen
from .secret import SecretScreen

__all__ = ["ApplyScreen", "CredentialsScreen", "DoneScreen", "Frame", "GatewayScreen",
           "NutScreen", "ReviewScreen", "SecretScreen", "WizardScreen"]
