"""The describer: an OpenTSLM-style time-series language model (soft prompts in a Llama).

`model` (TSLM: patch encoder + projector + Llama with LoRA), `patch_encoder`, `prompt`
(the chat prompt around the soft tokens), `files` (its folder on disk and the Hub),
`captions` (the synthetic series' descriptions it learns), `data` (training batches) and
`warmup` (the encoder's warm-up task). Its trainer is `sadt/train/tslm.py`.
"""
