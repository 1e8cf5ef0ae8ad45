"""The Gradio app (`python app.py`): `server` builds and serves it, `examples` are the
series it offers without an upload. Needs the app extra (pip install "sadt[app]");
`import sadt` never imports it."""
