"""The desktop shell: a pywebview window around the same UI and Api that `pixup serve` offers.

Import `pixup.desktop.window.run_desktop` lazily: this package stays free of heavy imports so the
window can appear before numpy and ONNX Runtime load.
"""
