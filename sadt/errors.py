"""Every error sadt raises on purpose, under one base class.

Each is a mistake a person can fix (a file, a setting, a model folder, training data) and
its message is one sentence saying what is wrong and what to do: the app shows it, the
CLI and the trainers print it and exit with code 2, never a traceback. They are
ValueErrors, so ``except ValueError`` catches them too. Anything else is a bug.

    SadtError
    ├── SeriesError        an uploaded or passed series cannot be read or used
    │   └── TooShortError      fewer values than the caller needs
    ├── BudgetError        a search budget that cannot pay for one complete sample
    ├── ModelFileError     a model folder or checkpoint that is corrupt, foreign or mismatched
    │   ├── MissingModelFile   a file or folder it needs is not there
    │   └── BaseLLMError       the describer's base LLM cannot be loaded
    ├── HubError           a pipeline that cannot be found, fetched or pushed
    ├── DataError          training data: a missing file, no numeric column, too short
    └── UsageError         a trainer's or a bench's settings and paths
"""


class SadtError(ValueError):
    """A mistake a person can fix; the message says what is wrong and what to do."""


class SeriesError(SadtError):
    """A user mistake in the input series; the message says what is wrong and what to do."""


class TooShortError(SeriesError):
    """Fewer values than the caller needs (a forecast still starts from any length)."""


class BudgetError(SadtError):
    """The NFE budget cannot pay for even one complete sample."""


class ModelFileError(SadtError):
    """A model or checkpoint file that exists but cannot be used (corrupt, foreign, mismatched)."""


class MissingModelFile(ModelFileError):
    """A file or folder a saved model needs is not there."""


class BaseLLMError(ModelFileError):
    """The base LLM cannot be loaded (a broken local folder, or a Hub id out of reach)."""


class HubError(SadtError):
    """A pipeline could not be found, fetched or pushed; the message says what to do."""


class DataError(SadtError):
    """Training data a user can get wrong: a missing file, no numeric column, too-short series."""


class UsageError(SadtError):
    """A trainer's or bench's settings or paths: one sentence, exit code 2."""
