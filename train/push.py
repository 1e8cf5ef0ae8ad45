"""Alias of `python -m sadt.train.push` (`sadt train push`), installed with sadt."""

from sadt.train.push import main

if __name__ == "__main__":
    raise SystemExit(main())
