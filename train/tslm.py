"""Alias of `python -m sadt.train.tslm` (`sadt train tslm`), installed with sadt."""

from sadt.train.tslm import main

if __name__ == "__main__":
    raise SystemExit(main())
