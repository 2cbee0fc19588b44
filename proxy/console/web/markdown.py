"""Completions as analysts read them: Markdown rendered with raw HTML disabled, so that nothing
a model or a user wrote can become markup (markdown-it-py escapes it; links with script
schemes are refused by its link validator)."""

from __future__ import annotations

from markdown_it import MarkdownIt
from markupsafe import Markup

# CommonMark with tables and strikethrough; "html": False turns raw HTML into escaped text.
_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
    ["table", "strikethrough"]
)
# Images would make the analyst's browser fetch whatever URL a completion names: shown as text.
_md.disable("image")


def render_markdown(text: str | None) -> Markup:
    if not text:
        return Markup("")
    return Markup(_md.render(text))  # markdown-it's output with HTML disabled: escaped
