"""The two pages the window shows before (or instead of) the real UI: "Starting pixup…" and an error.

Inline HTML with no external resources, so they paint in the first frame while numpy and ONNX Runtime
are still loading behind them. Colours are the UI's (ui/src/app.css: Tailwind zinc
surfaces, indigo accent), dark or light by prefers-color-scheme.
"""

from __future__ import annotations

import html

BACKGROUND_LIGHT = "#fafafa"
"""Window background before the first paint (pywebview wants one colour; the page then follows the OS)."""

_STYLE = """
:root { color-scheme: light dark; --bg: #fafafa; --fg: #18181b; --muted: #71717a; --accent: #4f46e5; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #09090b; --fg: #f4f4f5; --muted: #a1a1aa; --accent: #6366f1; }
}
html, body { height: 100%; margin: 0; }
body { background: var(--bg); color: var(--fg); display: flex; align-items: center; justify-content: center;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; }
main { text-align: center; max-width: 36rem; padding: 2rem; }
h1 { font-size: 1.6rem; font-weight: 650; margin: 0 0 .75rem; letter-spacing: .01em; }
h1 span { color: var(--accent); }
p { color: var(--muted); margin: .25rem 0; }
code { color: var(--fg); }
.bar { width: 12rem; height: 4px; margin: 1.25rem auto 0; border-radius: 2px; overflow: hidden;
  background: color-mix(in srgb, var(--muted) 25%, transparent); }
.bar::after { content: ""; display: block; width: 40%; height: 100%; background: var(--accent);
  border-radius: 2px; animation: slide 1.1s ease-in-out infinite; }
@keyframes slide { from { transform: translateX(-100%); } to { transform: translateX(250%); } }
@media (prefers-reduced-motion: reduce) { .bar::after { animation: none; width: 100%; } }
"""

# A file dropped on this page must not navigate away from it (the real UI takes drops once loaded).
_NO_NAVIGATE = (
    "<script>for (const t of ['dragover', 'drop']) "
    "document.addEventListener(t, (e) => e.preventDefault());</script>"
)


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}</main>{_NO_NAVIGATE}</body></html>"
    )


LOADING_HTML = _page(
    "pixup",
    '<h1><span>pix</span>up</h1><p role="status">Starting pixup…</p>'
    '<div class="bar" aria-hidden="true"></div>',
)


def error_html(headline: str, detail: str) -> str:
    """A page for a start-up failure the user can act on (UI not built, engine failed to load)."""
    return _page(
        "pixup",
        f'<h1><span>pix</span>up</h1><p role="alert"><strong>{html.escape(headline)}</strong></p>'
        f"<p>{html.escape(detail)}</p>",
    )
