"""Alias of `python -m sadt.train.value` (`sadt train value`), installed with sadt."""

from sadt.train.value import main

if __name__ == "__main__":
    raise SystemExit(main())
