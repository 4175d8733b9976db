"""What the user answers, in one place for callers outside the wizard (tests, e2e).

The concerns live apart: the fields and their check (`answermodel.py`), the answers file
(`answersfile.py`), the prefill from the current files (`prefill.py`). The wizard's own modules
import from those; this module only re-exports their public names.
"""

from __future__ import annotations

from .answermodel import (
    ANSWER_KEYS,
    CHARGE_LOW,
    AnswerError,
    Answers,
    SecretStore,
    credential_path,
    default_store,
)
from .answersfile import (
    FILE_KEYS,
    INPUT_LIMIT,
    SECRET_ANSWERS,
    apply_values,
    private_problem,
    read_answers_file,
    read_input,
)
from .prefill import Existing, daemon_paths, existing_upses, load_existing, prefill

__all__ = [
    "ANSWER_KEYS", "CHARGE_LOW", "FILE_KEYS", "INPUT_LIMIT", "SECRET_ANSWERS", "AnswerError",
    "Answers", "Existing", "SecretStore", "apply_values", "credential_path", "daemon_paths",
    "default_store", "existing_upses", "load_existing", "prefill", "private_problem",
    "read_answers_file", "read_input",
]
