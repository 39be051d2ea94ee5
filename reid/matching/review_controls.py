"""The controls ``--review-server`` adds to the review page (``report.py``), and its answer pages.

Plain HTML form controls, so the page works with the keyboard alone (Tab, the arrow keys between an
answer's options, Space to tick, Enter to send) and with no script: the strict content policy the
server sends forbids every script.
"""

from __future__ import annotations

import html

CONTROLS_STYLE = """
fieldset.answer { border: 0; padding: .2rem 0; margin: 0 0 .4rem; }
fieldset.answer label { margin-right: 1rem; } fieldset.answer legend { font-weight: 600; padding: 0; }
label.leave { display: block; color: #a33; font-size: .85rem; }
.apply { font-size: 1.05rem; padding: .4rem 1rem; margin: 1rem 0; }
:focus-visible { outline: 3px solid #36c; outline-offset: 2px; }
"""


def form_start(token: str) -> str:
    return (
        f"<style>{CONTROLS_STYLE}</style>"
        '<form method="post" action="/apply" id="answers">'
        f'<input type="hidden" name="token" value="{html.escape(token)}">'
        '<p class="summary">Answer each proposal: <b>yes</b>, <b>no</b>, or <b>later</b> (not carried out, not '
        "remembered). Tick a folder to leave it out of its group and merge the rest. Your yes and no answers are "
        "kept, and later plans follow them. Nothing changes until you press the button at the end.</p>"
    )


def form_end(proposals: int) -> str:
    return (
        f'<button type="submit" class="apply" id="apply">Carry out the approved ones (of {proposals})</button></form>'
    )


def choice_html(field: str, question: str) -> str:
    """yes / no / later for one proposal (later chosen until the person answers)."""
    options = "".join(
        f'<label><input type="radio" name="{field}" value="{value}"{" checked" if value == "later" else ""}> '
        f"{value}</label>"
        for value in ("yes", "no", "later")
    )
    return f'<fieldset class="answer" id="answer-{field}"><legend>{html.escape(question)}</legend>{options}</fieldset>'


def leave_out_html(field: str, folder: str) -> str:
    name = html.escape(folder)
    return f'<label class="leave"><input type="checkbox" name="{field}" value="{name}"> leave {name} out</label>'


def message_page(title: str, lines: list[str], preformatted: str = "") -> str:
    """A short page of the server's own: an answer's result, or why it was refused."""
    body = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    if preformatted:
        body += f"<pre>{html.escape(preformatted)}</pre>"
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>"
        "<style>body { font-family: system-ui, sans-serif; margin: 1.5rem; } pre { background: #f4f4f4; "
        "padding: .6rem; }</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>\n"
    )


def folders_table(title: str, folders: dict[str, int]) -> str:
    """``title`` and the folders with their crop counts, as lines for ``message_page``."""
    listed = ", ".join(f"{name} ({count})" for name, count in folders.items()) or "none"
    return f"{title}: {listed}"
