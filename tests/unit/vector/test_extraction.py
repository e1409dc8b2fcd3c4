"""Text extraction: every supported type yields the text a user would search for; bad files fail clearly."""

from __future__ import annotations

import io
import json
import tracemalloc
import zipfile

import docx
import pypdf
import pytest

from gateway_app.services.vector import extraction
from gateway_app.services.vector.extraction import (
    ExtractionError,
    InvalidFile,
    UnsupportedFile,
    extract_pages,
)

SENTENCE = "The quarterly revenue grew by 12 percent in Norway."


def make_pdf(*pages: str) -> bytes:
    """A minimal valid PDF, one page per argument, each showing its text in Helvetica; xref offsets exact."""
    page_ids = [3 + 2 * i for i in range(len(pages))]
    objects = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % i for i in page_ids) + b"] /Count %d >>" % len(pages),
    }
    font_id = 3 + 2 * len(pages)
    for page_id, text in zip(page_ids, pages, strict=True):
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").encode("latin-1")
        stream = b"BT /F1 12 Tf 72 720 Td (" + escaped + b") Tj ET"
        objects[page_id] = (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
                            b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (page_id + 1, font_id))
        objects[page_id + 1] = b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"
    objects[font_id] = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
    out = bytearray(b"%PDF-1.4\n")
    offsets = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n" % number + objects[number] + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for number in sorted(objects):
        out += b"%010d 00000 n \n" % offsets[number]
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def encrypt_pdf(data: bytes, user_password: str) -> bytes:
    """The PDF re-written by pypdf with the given user password."""
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=user_password, owner_password="owner-secret", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def make_docx() -> bytes:
    """A real Word document with a heading, a paragraph and a table."""
    document = docx.Document()
    document.add_heading("Annual report", level=1)
    document.add_paragraph(SENTENCE)
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Region"
    table.cell(0, 1).text = "Manager"
    table.cell(1, 0).text = "Fjordland"
    table.cell(1, 1).text = "Ingrid Solberg"
    document.add_paragraph("Closing paragraph after the table.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def only_text(filename: str, data: bytes) -> str:
    pages = extract_pages(filename, data)
    assert len(pages) == 1
    return pages[0]


def invalid(filename: str, data: bytes) -> InvalidFile:
    with pytest.raises(InvalidFile) as caught:
        extract_pages(filename, data)
    assert caught.value.code == "invalid_file"
    return caught.value


# --- plain text ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("filename", ["notes.txt", "README.md", "guide.markdown", "main.py", "App.java", "lib.rs",
                                      "run.sh", "style.css", "config.yaml", "paper.tex", "server.log", "NOTES.TXT"])
def test_text_and_code_files_return_their_text(filename):
    assert SENTENCE in only_text(filename, f"# heading\n{SENTENCE}\r\nmore\n".encode())


def test_a_utf8_bom_is_dropped_and_line_ends_are_unix():
    assert only_text("a.txt", b"\xef\xbb\xbfcaf\xc3\xa9\r\nnext") == "café\nnext"


def test_utf16_with_a_bom_is_read():
    assert only_text("a.txt", ("\ufeff" + SENTENCE).encode("utf-16-le")) == SENTENCE


def test_invalid_utf8_is_refused_with_a_clear_message():
    error = invalid("legacy.txt", "naïve café".encode("latin-1"))
    assert "not valid UTF-8" in error.message and "legacy.txt" in error.message


def test_a_binary_file_with_a_text_extension_is_refused():
    assert "binary" in invalid("image.txt", b"\x00\x01\x02abc\x00" * 10).message


# --- HTML ----------------------------------------------------------------------------------------------------------

def test_html_gives_visible_text_without_scripts_or_styles():
    page = b"""<!doctype html><html><head><title>Quarterly news</title>
    <style>body { color: red }</style><script>var secret = "tracking-code-123"; if (a < b) {}</script></head>
    <body><h1>Results</h1><p>The quarterly revenue grew by <b>12 percent</b> in Norway.</p>
    <ul><li>Fish &amp; chips</li><li>Second item</li></ul><noscript>Enable JavaScript</noscript></body></html>"""
    text = only_text("news.HTML", page)
    assert SENTENCE in text
    assert "Quarterly news" in text and "Fish & chips" in text
    assert "tracking-code-123" not in text and "color" not in text and "JavaScript" not in text
    # Block elements start new lines, so items do not run together.
    assert "Fish & chips\nSecond item" in text


# --- JSON, JSONL ---------------------------------------------------------------------------------------------------

def test_json_is_pretty_printed_so_values_are_searchable():
    data = json.dumps({"report": {"summary": SENTENCE, "city": "Tromsø"}}, ensure_ascii=True).encode()
    text = only_text("data.json", data)
    assert SENTENCE in text and "Tromsø" in text
    assert '\n    "summary": ' in text


def test_invalid_json_is_refused():
    assert "not valid JSON" in invalid("data.json", b'{"a": 1,').message


def test_deeply_nested_json_is_refused_not_crashing():
    invalid("deep.json", b"[" * 100_000 + b"]" * 100_000)


def test_jsonl_renders_each_record():
    text = only_text("rows.jsonl", b'{"id": 1, "text": "first record"}\n\n{"id": 2, "text": "second record"}\n')
    assert text.splitlines() == ['{"id": 1, "text": "first record"}', '{"id": 2, "text": "second record"}']


def test_a_bad_jsonl_line_is_named():
    assert "line 2" in invalid("rows.jsonl", b'{"id": 1}\nnot json\n').message


# --- CSV, TSV ------------------------------------------------------------------------------------------------------

def test_csv_rows_keep_their_column_names():
    data = b'name,city,note\nIngrid,Oslo,"likes ""fjords"", boats"\nOla,,\n'
    text = only_text("people.csv", data)
    assert text == 'name: Ingrid\ncity: Oslo\nnote: likes "fjords", boats\n\nname: Ola'


def test_tsv_uses_tabs_and_names_extra_columns():
    assert only_text("t.tsv", b"a\tb\n1\t2\t3\n") == "a: 1\nb: 2\ncolumn 3: 3"


def test_csv_rendering_is_bounded(monkeypatch):
    monkeypatch.setattr(extraction, "MAX_TEXT_CHARS", 1000)
    data = b"long_column_header,other_long_column_header\n" + b"1,2\n" * 100
    assert "characters of text" in invalid("big.csv", data).message


# --- PDF -----------------------------------------------------------------------------------------------------------

def test_pdf_pages_are_extracted_in_order():
    pages = extract_pages("report.pdf", make_pdf(SENTENCE, "Second page about fjords."))
    assert len(pages) == 2
    assert SENTENCE in pages[0] and "fjords" not in pages[0]
    assert "Second page about fjords." in pages[1]


def test_a_pdf_encrypted_with_a_password_is_refused():
    error = invalid("secret.pdf", encrypt_pdf(make_pdf(SENTENCE), "hunter2"))
    assert "password" in error.message


def test_a_pdf_encrypted_with_an_empty_user_password_opens():
    pages = extract_pages("open.pdf", encrypt_pdf(make_pdf(SENTENCE), ""))
    assert SENTENCE in pages[0]


@pytest.mark.parametrize("data", [b"%PDF-1.4\nthis is not a pdf", b"garbage", make_pdf(SENTENCE)[:60]])
def test_a_corrupt_pdf_is_an_invalid_file(data):
    invalid("broken.pdf", data)


def test_a_pdf_without_text_like_a_scan_is_refused():
    assert "no text could be extracted" in invalid("scan.pdf", make_pdf("", "")).message


def test_blank_pdf_pages_are_kept_so_page_numbers_hold():
    pages = extract_pages("r.pdf", make_pdf("", "Only the second page has text."))
    assert pages[0].strip() == "" and "second page" in pages[1]


def test_too_many_pdf_pages_are_refused(monkeypatch):
    monkeypatch.setattr(extraction, "MAX_PDF_PAGES", 2)
    assert "3 pages" in invalid("long.pdf", make_pdf("a", "b", "c")).message


# --- DOCX ----------------------------------------------------------------------------------------------------------

def test_docx_paragraphs_and_table_cells_in_order():
    text = only_text("report.docx", make_docx())
    assert SENTENCE in text
    assert "Region | Manager\nFjordland | Ingrid Solberg" in text
    assert text.index("Annual report") < text.index(SENTENCE) < text.index("Fjordland") < text.index("Closing")


@pytest.mark.parametrize("data", [b"not a zip at all", make_docx()[:500]])
def test_a_corrupt_docx_is_an_invalid_file(data):
    invalid("broken.docx", data)


def test_a_zip_that_is_not_a_word_document_is_invalid():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "hi")
    invalid("fake.docx", buffer.getvalue())


def test_a_zip_bomb_docx_is_refused_before_inflating():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w") as member:
            block = b"\0" * (1024 * 1024)
            for _ in range(64):
                member.write(block)
    bomb = buffer.getvalue()
    assert len(bomb) < 1024 * 1024
    tracemalloc.start()
    try:
        error = invalid("bomb.docx", bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "zip bomb" in error.message
    assert peak < 16 * 1024 * 1024


def test_a_docx_expanding_past_the_bound_is_refused(monkeypatch):
    monkeypatch.setattr(extraction, "MAX_UNCOMPRESSED", 1000)
    assert "expands to more than" in invalid("report.docx", make_docx()).message


# --- types, bounds, empty ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("filename", ["photo.jpg", "archive.zip", "slides.pptx", "Makefile", "old.doc"])
def test_unknown_types_are_unsupported(filename):
    with pytest.raises(UnsupportedFile) as caught:
        extract_pages(filename, b"whatever")
    assert caught.value.code == "unsupported_file"
    assert "not supported" in caught.value.message and ".pdf" in caught.value.message


@pytest.mark.parametrize("filename", ["empty.txt", "empty.pdf", "empty.docx", "empty.json"])
def test_an_empty_file_is_invalid(filename):
    assert "no text could be extracted" in invalid(filename, b"").message


def test_a_whitespace_only_file_is_invalid():
    assert "no text could be extracted" in invalid("blank.md", b"  \n\n\t ").message


def test_text_over_the_bound_is_refused(monkeypatch):
    monkeypatch.setattr(extraction, "MAX_TEXT_CHARS", 100)
    assert "more than 100 characters" in invalid("big.txt", b"x" * 101).message
    assert only_text("ok.txt", b"x" * 100) == "x" * 100


@pytest.mark.parametrize("filename", ["a.pdf", "a.docx", "a.json", "a.jsonl", "a.csv", "a.html", "a.txt"])
def test_random_bytes_only_ever_raise_extraction_errors(filename):
    noise = bytes((i * 7919 + 13) % 256 for i in range(5000))
    for data in (noise, b"PK\x03\x04" + noise, b"%PDF-1.7\n" + noise):
        try:
            extract_pages(filename, data)
        except ExtractionError:
            pass
