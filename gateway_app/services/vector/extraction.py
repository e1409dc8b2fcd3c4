"""Text extraction from uploaded files (bytes + filename) for vector store ingestion."""

from __future__ import annotations

import codecs
import csv
import io
import json
import posixpath
import zipfile
from collections.abc import Callable, Iterable, Iterator
from html.parser import HTMLParser

import docx
import pypdf
from docx.table import Table

MAX_TEXT_CHARS = 20_000_000  # extracted text per file
MAX_PDF_PAGES = 2000
MAX_UNCOMPRESSED = 200 * 1024 * 1024  # total uncompressed size of a .docx archive
MAX_ZIP_MEMBERS = 10_000
MAX_COMPRESSION_RATIO = 200  # only refused together with a large member, see _check_zip
LARGE_MEMBER = 10 * 1024 * 1024

PLAIN_TEXT_EXTENSIONS = frozenset({
    ".txt", ".md", ".markdown", ".rst", ".log", ".tex", ".xml", ".yaml", ".yml", ".toml", ".ini", ".cfg",
    ".py", ".js", ".mjs", ".jsx", ".ts", ".tsx", ".java", ".kt", ".scala", ".swift", ".c", ".h", ".cpp", ".cc",
    ".hpp", ".cs", ".go", ".rs", ".rb", ".php", ".pl", ".lua", ".r", ".sql", ".sh", ".bash", ".ps1", ".css",
})
HTML_EXTENSIONS = frozenset({".html", ".htm"})
SUPPORTED_EXTENSIONS = PLAIN_TEXT_EXTENSIONS | HTML_EXTENSIONS | {".json", ".jsonl", ".csv", ".tsv", ".pdf", ".docx"}


class ExtractionError(Exception):
    """A file whose text cannot be extracted; code is OpenAI's file last_error code."""

    code = "invalid_file"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnsupportedFile(ExtractionError):
    """The file type is not one the gateway can extract text from."""

    code = "unsupported_file"


class InvalidFile(ExtractionError):
    """The file claims a supported type but is corrupt, encrypted, too large or has no text."""

    code = "invalid_file"


def extract_pages(filename: str, data: bytes) -> list[str]:
    """The file's text as pages: one per PDF page (blank pages kept, so numbering holds), else a single page."""
    name = _display_name(filename)
    extension = _extension(filename)
    extractor = _EXTRACTORS.get(extension, _plain_text if extension in PLAIN_TEXT_EXTENSIONS else None)
    if extractor is None:
        kind = f"{extension} files" if extension else "files without an extension"
        raise UnsupportedFile(f"{name}: {kind} are not supported; supported: plain text, Markdown, HTML, JSON, "
                              "CSV/TSV, PDF, DOCX and source code (.txt .md .html .json .csv .pdf .docx .py ...)")
    if not data:
        raise InvalidFile(f"no text could be extracted from {name}: the file is empty")
    pages = [_normalize(page) for page in extractor(name, data)]
    if sum(len(page) for page in pages) > MAX_TEXT_CHARS:
        raise _too_much_text(name)
    if not any(page.strip() for page in pages):
        raise InvalidFile(f"no text could be extracted from {name}")
    return pages


# --- plain text and text-based formats ---------------------------------------------------------------------------

def _plain_text(name: str, data: bytes) -> list[str]:
    """A text file as one page."""
    return [_decode(name, data)]


def _decode(name: str, data: bytes) -> str:
    """UTF-8 (optionally with BOM), or UTF-16/32 when a BOM says so; anything else is refused, not guessed."""
    # Every UTF encoding needs at most 4 bytes per character, so this refuses oversized text before decoding it.
    if len(data) > 4 * MAX_TEXT_CHARS:
        raise _too_much_text(name)
    encoding = "utf-8-sig"
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        encoding = "utf-32"
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        label = "UTF-8" if encoding == "utf-8-sig" else encoding.upper()
        raise InvalidFile(f"{name} is not valid {label} text (bad byte at offset {exc.start}); "
                          f"save it as UTF-8 and upload it again") from None
    if "\x00" in text:
        # Valid UTF-8 full of NULs is a binary file with a text extension, not text.
        raise InvalidFile(f"{name} looks like a binary file, not text")
    if len(text) > MAX_TEXT_CHARS:
        raise _too_much_text(name)
    return text


def _json(name: str, data: bytes) -> list[str]:
    """A JSON document, re-indented so that keys and values sit on their own searchable lines."""
    value = _parse_json(name, _decode(name, data), where="")
    # Streamed with a running bound: indentation of deeply nested documents can multiply the size.
    encoder = json.JSONEncoder(indent=2, ensure_ascii=False)
    parts, size = [], 0
    try:
        for part in encoder.iterencode(value):
            size += len(part)
            if size > MAX_TEXT_CHARS:
                raise _too_much_text(name)
            parts.append(part)
    except RecursionError:
        raise InvalidFile(f"{name} is nested too deeply") from None
    return ["".join(parts)]


def _jsonl(name: str, data: bytes) -> list[str]:
    """JSON Lines: each record parsed, then rendered on its own line."""
    lines, size = [], 0
    for number, line in enumerate(_decode(name, data).splitlines(), 1):
        if not line.strip():
            continue
        value = _parse_json(name, line, where=f" (line {number})")
        try:
            rendered = json.dumps(value, ensure_ascii=False)
        except RecursionError:
            raise InvalidFile(f"{name} (line {number}) is nested too deeply") from None
        size += len(rendered) + 1
        if size > MAX_TEXT_CHARS:
            raise _too_much_text(name)
        lines.append(rendered)
    return ["\n".join(lines)]


def _parse_json(name: str, text: str, *, where: str) -> object:
    """json.loads, with parse errors and absurd nesting reported as an invalid file."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidFile(f"{name}{where} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise InvalidFile(f"{name}{where} is nested too deeply") from None


def _csv(name: str, data: bytes) -> list[str]:
    """A comma-separated table, one "column: value" line per cell so a chunk keeps the column names."""
    return [_table_text(name, _decode(name, data), delimiter=",")]


def _tsv(name: str, data: bytes) -> list[str]:
    """A tab-separated table, rendered like a CSV."""
    return [_table_text(name, _decode(name, data), delimiter="\t")]


def _table_text(name: str, text: str, *, delimiter: str) -> str:
    """Rows after the header as blocks of "header: value" lines, separated by blank lines."""
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [cell.strip() for cell in next(rows, [])]
        blocks, size = [], 0
        for row in rows:
            block = "\n".join(f"{_column(header, i)}: {cell.strip()}" for i, cell in enumerate(row) if cell.strip())
            if not block:
                continue
            # Repeating the header on every row can multiply the size, so the bound applies to the rendering.
            size += len(block) + 2
            if size > MAX_TEXT_CHARS:
                raise _too_much_text(name)
            blocks.append(block)
    except csv.Error as exc:
        raise InvalidFile(f"{name} is not a valid table (line {rows.line_num}): {exc}") from None
    if not blocks:
        # A header-only table still has searchable text.
        return ", ".join(cell for cell in header if cell)
    return "\n\n".join(blocks)


def _column(header: list[str], index: int) -> str:
    """The header of a column, or a positional name where the header has none."""
    if index < len(header) and header[index]:
        return header[index]
    return f"column {index + 1}"


# --- HTML --------------------------------------------------------------------------------------------------------

# Content a browser does not show; <head> holds only <title> (kept) besides these and void tags.
_INVISIBLE_TAGS = frozenset({"script", "style", "noscript", "template", "svg"})
_BLOCK_TAGS = frozenset({
    "address", "article", "aside", "blockquote", "br", "caption", "dd", "details", "div", "dl", "dt", "fieldset",
    "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav",
    "ol", "p", "pre", "section", "summary", "table", "title", "tr", "ul",
})
_CELL_TAGS = frozenset({"td", "th"})


class _VisibleText(HTMLParser):
    """Collects the text a browser would show, with line breaks where block elements start and end."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0  # depth inside invisible elements

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _INVISIBLE_TAGS:
            self.hidden += 1
        self._separate(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # <script/> or <svg/> opens nothing, so it must not change the hidden depth.
        self._separate(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _INVISIBLE_TAGS and self.hidden:
            self.hidden -= 1
        self._separate(tag)

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)

    def _separate(self, tag: str) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")
        elif tag in _CELL_TAGS:
            self.parts.append(" ")

    def text(self) -> str:
        """Visible text: whitespace collapsed within lines, blank lines dropped."""
        lines = (" ".join(line.split()) for line in "".join(self.parts).split("\n"))
        return "\n".join(line for line in lines if line)


def _html(name: str, data: bytes) -> list[str]:
    """The visible text of an HTML page."""
    parser = _VisibleText()
    try:
        parser.feed(_decode(name, data))
        parser.close()
    except ExtractionError:
        raise
    except Exception as exc:  # html.parser is lenient, but a malformed declaration can still raise
        raise InvalidFile(f"{name} could not be parsed as HTML: {exc}") from None
    return [parser.text()]


# --- PDF ---------------------------------------------------------------------------------------------------------

def _pdf(name: str, data: bytes) -> list[str]:
    """One string per page, in order; blank pages stay so that page numbers match the document."""
    reader = _open_pdf(name, data)
    pages, size = [], 0
    for page in reader.pages:
        text = _page_text(page)
        size += len(text)
        if size > MAX_TEXT_CHARS:
            raise _too_much_text(name)
        pages.append(text)
    return pages


def _open_pdf(name: str, data: bytes) -> pypdf.PdfReader:
    """A reader on a readable, unencrypted (or empty-password) PDF of bounded length."""
    # pypdf raises many exception types on malformed input (PdfReadError, ValueError, KeyError, ...):
    # any of them means the file is not a readable PDF.
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise InvalidFile(f"{name} is encrypted with a password; upload an unencrypted copy")
        count = len(reader.pages)
    except ExtractionError:
        raise
    except pypdf.errors.DependencyError:
        raise InvalidFile(f"{name} is encrypted in a way that cannot be opened; upload an unencrypted copy") from None
    except Exception as exc:
        raise InvalidFile(f"{name} is not a readable PDF: {_reason(exc)}") from None
    if count > MAX_PDF_PAGES:
        raise InvalidFile(f"{name} has {count} pages; at most {MAX_PDF_PAGES} are supported")
    return reader


def _page_text(page: pypdf.PageObject) -> str:
    """A page's text, or "" when pypdf cannot read that page."""
    try:
        return page.extract_text() or ""
    except Exception:
        # One broken page (a bad font map, a damaged stream) should not lose the rest of the document;
        # a document where no page yields text is still refused by extract_pages.
        return ""


# --- DOCX --------------------------------------------------------------------------------------------------------

def _docx(name: str, data: bytes) -> list[str]:
    """Body paragraphs and table cells, in document order."""
    _check_zip(name, data)
    try:
        document = docx.Document(io.BytesIO(data))
        text = "\n".join(_block_lines(document))
    except Exception as exc:  # python-docx and lxml raise many types (KeyError, ValueError, XMLSyntaxError, ...)
        raise InvalidFile(f"{name} is not a readable Word document: {_reason(exc)}") from None
    return [text]


def _check_zip(name: str, data: bytes) -> None:
    """Refuse a corrupt archive or a zip bomb before anything decompresses it."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
        raise InvalidFile(f"{name} is not a readable Word document: {_reason(exc)}") from None
    if len(infos) > MAX_ZIP_MEMBERS:
        raise InvalidFile(f"{name} has more than {MAX_ZIP_MEMBERS} parts")
    # zipfile never inflates a member past its declared size, so checking declared sizes is enough.
    if sum(info.file_size for info in infos) > MAX_UNCOMPRESSED:
        raise InvalidFile(f"{name} expands to more than {MAX_UNCOMPRESSED // (1024 * 1024)} MB")
    for info in infos:
        if info.file_size > LARGE_MEMBER and info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1):
            raise InvalidFile(f"{name} contains a part compressed more than {MAX_COMPRESSION_RATIO}x "
                              f"({info.filename}); it looks like a zip bomb")


def _block_lines(container: object) -> Iterator[str]:
    """Text of the paragraphs and tables of a document or table cell, in order."""
    for block in container.iter_inner_content():  # type: ignore[attr-defined]
        if isinstance(block, Table):
            yield from _table_lines(block)
        else:
            yield block.text


def _table_lines(table: Table) -> Iterator[str]:
    """One line per row, cells separated by " | " (merged cells once)."""
    for row in table.rows:
        cells, seen = [], set()
        for cell in row.cells:
            # A merged cell is returned once per grid column it spans; its XML element is shared.
            if id(cell._tc) in seen:
                continue
            seen.add(id(cell._tc))
            text = "\n".join(_block_lines(cell)).strip()
            if text:
                cells.append(text)
        if cells:
            yield " | ".join(cells)


# --- shared ------------------------------------------------------------------------------------------------------

_EXTRACTORS: dict[str, Callable[[str, bytes], Iterable[str]]] = {
    ".html": _html, ".htm": _html, ".json": _json, ".jsonl": _jsonl, ".csv": _csv, ".tsv": _tsv,
    ".pdf": _pdf, ".docx": _docx,
}


def _extension(filename: str) -> str:
    """The lower-cased extension of the file's base name ("" when it has none)."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    return posixpath.splitext(base)[1].lower()


def _display_name(filename: str) -> str:
    """The filename as shown in messages, bounded so a huge name cannot bloat an error."""
    return filename if len(filename) <= 200 else filename[:200] + "..."


def _normalize(text: str) -> str:
    """Unix line ends and no NULs (PDF text can contain them), so chunking and storage see plain text."""
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")


def _too_much_text(name: str) -> InvalidFile:
    """The error for a file over MAX_TEXT_CHARS."""
    return InvalidFile(f"{name} has more than {MAX_TEXT_CHARS:,} characters of text")


def _reason(exc: BaseException) -> str:
    """A short description of a parser's exception for an error message."""
    text = str(exc).strip()
    if not text:
        return type(exc).__name__
    return text if len(text) <= 200 else text[:200] + "..."
