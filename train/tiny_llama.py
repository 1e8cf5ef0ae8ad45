"""Alias of `python -m sadt.train.tiny_llama` (`sadt train tiny_llama`), installed with sadt."""

from sadt.train.tiny_llama import main

if __name__ == "__main__":
    raise SystemExit(main())
