"""Aliases for the trainers, which are installed with the package (`sadt.train`):
``python -m train.forecaster`` runs ``python -m sadt.train.forecaster`` (= ``sadt train
forecaster``), and so on for tslm, value, push and tiny_llama. Configs live in train/configs/."""
