"""No active content from a submission reaches a browser: feedback pages, the formgrader, JupyterLab.

A student controls markdown cells and every output of their code. Rendered as they are,
`<img onerror>`, `<script>`, `display(Javascript(...))` or an `<svg onload>` run in the
instructor's logged-in Jupyter (the formgrader shows autograded notebooks unsanitised).

- SanitizeNotebook, a preprocessor, makes the notebook itself safe before nbgrader writes
  it to autograded/ and before feedback is rendered: outputs keep only allowlisted MIME
  types (HTML cleaned by nh3), markdown is kept only when it renders to nothing but
  markdown's own escaped markup (else it becomes its cleaned HTML), metadata is reduced to
  what grading needs, and over-long markdown is shown as code instead of being rendered
  (nbconvert's markdown parser takes quadratic time on some inputs). Attached images are
  capped per notebook by what they add to the rendered page (see attachment_cost).
- clean_html, markdown2html and get_metadata replace nbconvert's Jinja filters of the same
  names (c.HTMLExporter.filters), so that whatever notebook the feedback exporter or the
  formgrader renders, HTML goes through the same allowlist at render time too.
"""
import base64
import binascii
import uuid
from itertools import groupby

import nh3
from jinja2 import pass_context
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
from nbconvert.filters.metadata import get_metadata as nbconvert_get_metadata
from nbformat import from_dict
from nbgrader.preprocessors import NbGraderPreprocessor
from pygments.token import STANDARD_TYPES
from traitlets import Integer

# ------------------------------------------------------------------ HTML allowlist

# Structure and formatting, tables, details/summary, links and images: what honest markdown,
# pandas, matplotlib and nbconvert's own code highlighting produce. No forms, frames, media,
# SVG/MathML, style sheets or scripts.
TAGS = {
    "p", "br", "hr", "div", "span", "blockquote", "pre", "code", "kbd", "samp", "var",
    "b", "i", "em", "strong", "u", "s", "del", "ins", "sub", "sup", "small", "mark", "abbr", "cite", "q",
    "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "dl", "dt", "dd",
    "table", "caption", "colgroup", "col", "thead", "tbody", "tfoot", "tr", "th", "td",
    "details", "summary", "a", "img",
}
# Removed with their content, not just their tags: code, styles and embedded documents.
DROP_WITH_CONTENT = {"script", "style", "template", "iframe", "object", "embed", "svg", "math",
                     "noscript", "textarea", "select", "title"}
# style on table rows and cells keeps text-align only (pandas, markdown tables), see CLEANER.
ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "abbr": {"title"}, "details": {"open"}, "ol": {"start"}, "col": {"span"}, "colgroup": {"span"},
    "th": {"colspan", "rowspan", "style"}, "td": {"colspan", "rowspan", "style"}, "tr": {"style"},
}
# No id or free class names: they could clobber the formgrader's own elements and styles.
# Classes: pygments' token classes (highlighted code) and pandas' table class only.
CLASSES = {
    "div": {"highlight", "hl-ipython3", "hl-python3", "hl-python"},
    "span": {name for name in STANDARD_TYPES.values() if name},
    "table": {"dataframe"},
}
LINK_SCHEMES = ("http:", "https:", "mailto:")
IMAGE_PREFIXES = ("data:image/png;base64,", "data:image/jpeg;base64,")
IMAGE_TYPES = ("image/png", "image/jpeg")


def _attribute_filter(tag, attribute, value):
    """Links to http(s)/mailto only; images only inline PNG or JPEG (no fetches, no SVG)."""
    if attribute == "href" and not value.strip().lower().startswith(LINK_SCHEMES):
        return None
    if attribute == "src" and not value.strip().lower().startswith(IMAGE_PREFIXES):
        return None
    return value


CLEANER = nh3.Cleaner(
    tags=TAGS, clean_content_tags=DROP_WITH_CONTENT, attributes=ATTRIBUTES, allowed_classes=CLASSES,
    attribute_filter=_attribute_filter, url_schemes={"http", "https", "mailto", "data"},
    url_relative="deny", filter_style_properties={"text-align"})


def clean_html(html):
    """HTML with everything outside the allowlist removed (nh3, an html5ever-based sanitiser)."""
    html = html.decode() if isinstance(html, bytes) else str(html)
    return CLEANER.clean(html)


# ------------------------------------------------------------------ markdown

# Markdown tokens that nbconvert's renderer turns into its own markup with the text escaped.
# Raw HTML (block_html, inline_html) and anything unlisted are not plain.
PLAIN_TOKENS = {
    "paragraph", "text", "emphasis", "strong", "codespan", "linebreak", "softbreak", "blank_line",
    "heading", "thematic_break", "block_text", "block_quote", "list", "list_item", "task_list_item",
    "block_code", "strikethrough", "table", "table_head", "table_body", "table_row", "table_cell",
    "def_list", "def_list_head", "def_list_item", "block_math", "inline_math", "latex_environment",
    "link", "image",
}


def render_markdown(source, attachments=None):
    """Markdown to HTML as nbconvert renders it (same parser and plugins), without heading anchors."""
    renderer = IPythonRenderer(escape=False, attachments=attachments or {}, exclude_anchor_links=True)
    return MarkdownWithMath(renderer=renderer).render(source)


def _plain(tokens, attachments):
    for token in tokens:
        kind, attrs = token["type"], token.get("attrs") or {}
        url = str(attrs.get("url", "")).strip()
        if kind not in PLAIN_TOKENS:
            return False
        # nbconvert puts a mermaid block's code into the page unescaped.
        if kind == "block_code" and str(attrs.get("info") or "").strip().lower().startswith("mermaid"):
            return False
        if kind == "link" and not url.lower().startswith(LINK_SCHEMES):
            return False
        if kind == "image" and not (url.lower().startswith(IMAGE_PREFIXES) or url.startswith("attachment:")
                                    and set(attachments.get(url[len("attachment:"):]) or ()) & set(IMAGE_TYPES)):
            return False
        if not _plain(token.get("children", ()), attachments):
            return False
    return True


def is_plain_markdown(source, attachments=None):
    """Whether the source renders to markdown's own escaped markup only: no raw HTML, no links but
    http(s)/mailto, no images but inline PNG/JPEG or the cell's attachments."""
    return _plain(MarkdownWithMath(renderer=None)(source), attachments or {})


def code_block(text):
    """Markdown showing text verbatim: a fence longer than any run of backticks in it."""
    longest = max((len(list(run)) for char, run in groupby(text) if char == "`"), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{text}\n{fence}"


REMOVED_NOTE = "*The grader could not show this cell safely, so it is not shown.*"
# An attachment that is left out renders as data:text/plain, which clean_html removes: its alt text shows.
LEFT_OUT = {"text/plain": ""}


def attachment_cost(source, attachments):
    """Characters of base64 a markdown cell's attachments put into its rendered page: each one's
    size times the times the cell shows it, and at least once (the notebook keeps it).

    nbconvert writes an attachment's whole data: URL at every reference, and reference-style
    links (`[a]: attachment:a.png` then `![][a]` many times) hide how many there are, so they are
    counted in the HTML: the cell rendered once, each attachment a short unique placeholder.
    Attachments of a cell that fails to render count once (safe_markdown does not show it).
    """
    tag = uuid.uuid4().hex
    placeholders = {name: {"image/png": f"{tag}x{i}x"} for i, name in enumerate(attachments)}
    try:
        html = render_markdown(source, placeholders)
    except Exception:  # noqa: BLE001
        html = ""
    return sum(sum(map(len, attachments[name].values())) * max(1, html.count(placeholder["image/png"]))
               for name, placeholder in placeholders.items())


def safe_markdown(source, attachments=None):
    """Markdown that renders to nothing active, and as close to the source as that allows.

    Plain markdown is kept as written. Otherwise the cell becomes its rendered HTML, cleaned
    and on one line, which markdown passes through as one raw HTML block: kept only if the
    markdown renderer gives back exactly that cleaned HTML, else the cell is replaced by a note.
    """
    try:
        if is_plain_markdown(source, attachments):
            return source
        html = clean_html(render_markdown(source, attachments)).strip().replace("\n", "&#10;")
        for candidate in (html, f"<div>{html}</div>"):
            if render_markdown(candidate).rstrip("\n") == candidate:
                return candidate
    except Exception:  # noqa: BLE001 - e.g. a missing attachment: whatever fails is not shown
        pass
    return REMOVED_NOTE


@pass_context
def markdown2html(context, source):
    """Jinja filter for nbconvert's markdown2html: the same rendering, then the HTML allowlist."""
    cell = context.get("cell") or {}
    return clean_html(render_markdown(source, cell.get("attachments")))


def get_metadata(output, key, mimetype=None):
    """Jinja filter for nbconvert's get_metadata: an image's width and height only when they are
    whole numbers (nbconvert writes them into an unquoted HTML attribute)."""
    value = nbconvert_get_metadata(output, key, mimetype)
    if key in ("width", "height") and not (isinstance(value, int) and not isinstance(value, bool)):
        return None
    return value


# ------------------------------------------------------------------ the preprocessor

KEPT_NOTEBOOK_METADATA = ("kernelspec", "language_info")
KEPT_CELL_METADATA = ("nbgrader", "deletable", "editable")


def _text(value):
    """nbformat's multiline string (a string or a list of strings) as one string."""
    if isinstance(value, list):
        return "".join(part for part in value if isinstance(part, str))
    return value if isinstance(value, str) else ""


def _base64(value):
    """The base64 text of an image, or None when it is not base64."""
    text = "".join(_text(value).split())
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return text or None


def _plain_name(name):
    """Whether a grade_id is letters, digits, - and _ only, as nbgrader requires: the formgrader
    writes it into an HTML attribute unescaped."""
    return isinstance(name, str) and name != "" and all(ch.isascii() and (ch.isalnum() or ch in "-_") for ch in name)


def _image_metadata(metadata):
    """Only whole-number width and height of PNG and JPEG images."""
    kept = {}
    for mime in IMAGE_TYPES:
        entry = metadata.get(mime) if isinstance(metadata, dict) else None
        if isinstance(entry, dict):
            size = {k: v for k, v in entry.items()
                    if k in ("width", "height") and isinstance(v, int) and not isinstance(v, bool) and v > 0}
            if size:
                kept[mime] = size
    return kept


class SanitizeNotebook(NbGraderPreprocessor):
    """Leave nothing in a notebook that a browser would run, by allowlist.

    Outputs: stream and error as text; rich outputs keep text/plain, text/latex, PNG and
    JPEG images (valid base64), text/html cleaned by nh3 and text/markdown made safe as
    markdown cells are; everything else (JavaScript, SVG, widgets, unknown types) is
    dropped, and so is an output left empty. Markdown cells: see safe_markdown; a cell
    over max_markdown_chars, or past max_markdown_total for the notebook, is shown as a
    code block instead (rendering such markdown can take minutes). A markdown cell keeps only
    PNG and JPEG attachments, and those only while attachment_cost over the notebook stays
    within max_attachment_chars: past it, a cell's images are left out (their alt text shows)
    with a note saying so, since each reference repeats the whole image in the page (1,400
    references to one 50 KB image made a 94 MB feedback page). Raw cells are cleaned
    as HTML. Metadata: cells keep only nbgrader's and the edit locks, outputs only image
    sizes, the notebook only its kernel and language.

    It runs last in autograding, after SaveAutoGrades: grades and nbgrader's "No response"
    checksums see the submission as it was; only the notebook written to autograded/ is
    changed. It runs again before feedback is rendered.
    """

    max_markdown_chars = Integer(10_000, help="A markdown cell or output longer than this is shown "
                                 "as code, not rendered.").tag(config=True)
    max_markdown_total = Integer(50_000, help="Markdown rendered per notebook; cells past it are "
                                 "shown as code.").tag(config=True)
    max_attachment_chars = Integer(2_000_000, help="Base64 of markdown cells' attached images per notebook, "
                                   "counted once for each time the rendered cell shows them; a cell's "
                                   "images past it are left out, with a note.").tag(config=True)

    def preprocess(self, nb, resources):
        self._budget = self.max_markdown_total
        self._attachment_budget = self.max_attachment_chars
        nb.metadata = from_dict({k: nb.metadata[k] for k in KEPT_NOTEBOOK_METADATA if k in nb.metadata})
        for cell in nb.cells:
            self.sanitize_cell(cell)
        return nb, resources

    def sanitize_cell(self, cell):
        cell.metadata = from_dict({k: cell.metadata[k] for k in KEPT_CELL_METADATA if k in cell.metadata})
        nbgrader = cell.metadata.get("nbgrader")
        if nbgrader is not None and not (isinstance(nbgrader, dict) and _plain_name(nbgrader.get("grade_id"))):
            del cell.metadata["nbgrader"]
        if cell.cell_type == "markdown":
            source, given = _text(cell.source), cell.get("attachments")
            given = given if isinstance(given, dict) else {}
            attachments = self._attachments(given)
            # Attachments dropped here still render (as their alt text), so the cell can be shown.
            stubs = {name: LEFT_OUT for name in given if isinstance(name, str) and name not in attachments}
            note = ""
            if attachments:
                rendered = len(source) <= min(self.max_markdown_chars, self._budget)   # else shown as code
                cost = attachment_cost(source if rendered else "", {**stubs, **attachments})
                if cost > self._attachment_budget:
                    self.log.warning("Images attached to a markdown cell left out: %d characters shown", cost)
                    note = (f"*The images in this cell were left out by the grader: as often as the cell shows "
                            f"them, they come to {cost:,} characters, over the limit of "
                            f"{self.max_attachment_chars:,} for attached images per notebook.*\n\n")
                    stubs.update(dict.fromkeys(attachments, LEFT_OUT))
                    attachments = {}
                else:
                    self._attachment_budget -= cost
            if attachments:
                cell.attachments = attachments
            else:
                cell.pop("attachments", None)
            cell.source = note + self.markdown(source, "cell", {**stubs, **attachments})
        elif cell.cell_type == "raw":
            cell.source = clean_html(_text(cell.source))
            cell.pop("attachments", None)
        elif cell.cell_type == "code":
            cell.outputs = [out for out in map(self.sanitize_output, cell.get("outputs", [])) if out is not None]

    def markdown(self, source, what, attachments=None):
        """Safe markdown; too long (or past the notebook's budget), a note and the start as code."""
        if len(source) > min(self.max_markdown_chars, self._budget):
            self.log.warning("A markdown %s of %d characters is shown as code", what, len(source))
            return (f"*This markdown {what} is {len(source):,} characters long, over the grader's limit, "
                    f"so it is not rendered. Its first {self.max_markdown_chars:,} characters:*\n\n"
                    + code_block(source[:self.max_markdown_chars]))
        self._budget -= len(source)
        return safe_markdown(source, attachments)

    @staticmethod
    def _attachments(attachments):
        """A markdown cell's attachments that are PNG or JPEG images in base64."""
        kept = {}
        for name, bundle in (attachments or {}).items():
            if isinstance(name, str) and isinstance(bundle, dict):
                images = {mime: _base64(bundle[mime]) for mime in IMAGE_TYPES if mime in bundle}
                images = {mime: data for mime, data in images.items() if data}
                if images:
                    kept[name] = images
        return kept

    def sanitize_output(self, output):
        kind = output.get("output_type")
        if kind == "stream":
            name = output.get("name") if output.get("name") in ("stdout", "stderr") else "stdout"
            return from_dict({"output_type": "stream", "name": name, "text": _text(output.get("text"))})
        if kind == "error":
            traceback = output.get("traceback")
            return from_dict({"output_type": "error", "ename": _text(output.get("ename")),
                              "evalue": _text(output.get("evalue")),
                              "traceback": [_text(line) for line in traceback] if isinstance(traceback, list) else []})
        if kind not in ("execute_result", "display_data", "update_display_data"):
            return None
        data = self.sanitize_data(output.get("data"))
        if not data:
            return None
        clean = {"output_type": "display_data", "data": data, "metadata": _image_metadata(output.get("metadata"))}
        if kind == "execute_result":
            count = output.get("execution_count")
            clean.update(output_type=kind,
                         execution_count=count if isinstance(count, int) and not isinstance(count, bool) else None)
        return from_dict(clean)

    def sanitize_data(self, data):
        """A MIME bundle reduced to the allowlisted types, each made safe; {} if nothing is left."""
        clean = {}
        for mime, value in (data if isinstance(data, dict) else {}).items():
            if mime in ("text/plain", "text/latex"):
                clean[mime] = _text(value)
            elif mime in IMAGE_TYPES:
                clean[mime] = _base64(value)
            elif mime == "text/html":
                clean[mime] = clean_html(_text(value))
            elif mime == "text/markdown":
                clean[mime] = self.markdown(_text(value), "output")
        return {mime: value for mime, value in clean.items() if value}
