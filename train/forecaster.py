"""Alias of `python -m sadt.train.forecaster` (`sadt train forecaster`), installed with sadt."""

from sadt.train.forecaster import main

if __name__ == "__main__":
    raise SystemExit(main())
