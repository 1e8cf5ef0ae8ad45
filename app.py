"""sadt Gradio app (placeholder until the app lands: it says so and serves nothing else)."""

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

with gr.Blocks(title="sadt") as demo:
    gr.Markdown("# sadt\nThe forecasting and description app is not built yet.")

if __name__ == "__main__":
    demo.launch()
