"""sadt app: describe a time series and forecast it with a spectrally steered tree search.

    python app.py                          # the bundled default model (sadt/assets/sadt-tiny)
    python app.py --model user/sadt-model  # a Hub id or a local pipeline folder (or SADT_MODEL)
    python app.py --host 0.0.0.0 --port 7860   # or GRADIO_SERVER_NAME / GRADIO_SERVER_PORT

The app itself is `sadt.app.server`; this file is its entry point (and the Space's).
"""

import os
import signal
import sys


def leave_quietly(signum, frame) -> None:
    """Ctrl-C or SIGTERM while the app is still importing: nothing is running yet."""
    print("sadt app: stopped before it started.", file=sys.stderr)
    os._exit(0)


if __name__ == "__main__":  # a stop in the first seconds must not print a traceback
    signal.signal(signal.SIGINT, leave_quietly)
    signal.signal(signal.SIGTERM, leave_quietly)
    from sadt.app.server import main

    sys.exit(main())
