"""Reading a user's folder: every format, and every way a file can be bad."""

from __future__ import annotations

import zlib
from pathlib import Path

import docx
import pytest

from assistant import Assistant, CorpusError
from assistant.indexer import to_document
from assistant.ingest.load import RawFile, Skipped, extract_text, iter_files
from tests.conftest import default_settings


def _pdf(text: str, title: str | None = None) -> bytes:
    """A one-page PDF with ``text`` (ASCII, one line per line), written by hand so the test
    needs no PDF writer; ``title`` goes into its metadata."""
    lines = " 0 -14 Td ".join(f"({line}) Tj" for line in text.splitlines())
    stream = f"BT /F1 12 Tf 72 720 Td {lines} ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(zlib.compress(stream))
        + zlib.compress(stream)
        + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    if title is not None:
        objects.append(b"<< /Title (%s) >>" % title.encode())
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    info = b" /Info %d 0 R" % len(objects) if title is not None else b""
    out += b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, info, xref)
    return bytes(out)


def _docx(path: Path, text: str) -> None:
    d = docx.Document()
    d.add_paragraph(text)
    d.save(str(path))


def test_every_supported_format(tmp_path: Path):
    (tmp_path / "a.txt").write_text("Plain text about Khorgos.", encoding="utf-8")
    (tmp_path / "b.md").write_text("# Title\n\nMarkdown about Astana.", encoding="utf-8")
    (tmp_path / "c.html").write_text("<html><head><title>Page</title><script>var x=1</script></head>"
                                     "<body><nav>menu</nav><p>HTML about Almaty.</p></body></html>", encoding="utf-8")
    (tmp_path / "d.pdf").write_bytes(_pdf("PDF about Aktau port"))
    _docx(tmp_path / "e.docx", "DOCX about Shymkent.")
    got = {f.source: f for f in iter_files(tmp_path, 10_000_000)}
    assert all(isinstance(f, RawFile) for f in got.values()), got
    assert "Khorgos" in got["a.txt"].text
    assert "Astana" in got["b.md"].text
    assert "Almaty" in got["c.html"].text and "var x" not in got["c.html"].text and "menu" not in got["c.html"].text
    assert "PDF about Aktau port" in got["d.pdf"].text
    assert "Shymkent" in got["e.docx"].text


PDF_PAGE = """7
Digital corridors of Central Asia
Aigerim Bekova, Astana
The digital corridors of Central Asia connect the railway hubs of Kazakhstan with ports on the
Caspian Sea and with the border crossing at Khorgos, where containers change gauge.
"""


def test_a_pdf_is_titled_by_its_first_line_not_a_later_one(tmp_path: Path):
    # Cleaning joins the unpunctuated title line to the lines under it, into one paragraph too
    # long to be a title; the title used to come out as a later line ("Caspian Sea and ...").
    (tmp_path / "paper.pdf").write_bytes(_pdf(PDF_PAGE))
    [raw] = list(iter_files(tmp_path, 10_000_000))
    assert isinstance(raw, RawFile)
    assert to_document(raw, 0.8).title == "Digital corridors of Central Asia"


def test_a_pdf_title_from_its_metadata_unless_a_placeholder(tmp_path: Path):
    (tmp_path / "a.pdf").write_bytes(_pdf(PDF_PAGE, title="Corridors, not walls: Kazakhstan"))
    (tmp_path / "b.pdf").write_bytes(_pdf(PDF_PAGE, title="Microsoft Word - draft3.docx"))
    got = {f.source: f for f in iter_files(tmp_path, 10_000_000)}
    assert got["a.pdf"].title == "Corridors, not walls: Kazakhstan"
    assert got["b.pdf"].title == "Digital corridors of Central Asia"


def test_non_utf8_text_is_decoded_with_a_warning(tmp_path: Path):
    text = "Казахстан строит коридоры, а не стены. Это стратегический выбор страны."
    (tmp_path / "cp.txt").write_bytes(text.encode("cp1251"))
    [f] = list(iter_files(tmp_path, 10_000_000))
    assert isinstance(f, RawFile) and f.text == text
    assert f.warnings and "not UTF-8" in f.warnings[0]


def test_binary_and_broken_files_are_skipped_with_a_reason(tmp_path: Path):
    (tmp_path / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    (tmp_path / "broken.docx").write_bytes(b"PK not a zip")
    (tmp_path / "empty.md").write_text("   \n", encoding="utf-8")
    got = {f.source: f for f in iter_files(tmp_path, 10_000_000)}
    assert isinstance(got["image.txt"], Skipped) and "binary" in got["image.txt"].reason
    assert isinstance(got["broken.pdf"], Skipped) and "PDF" in got["broken.pdf"].reason
    assert isinstance(got["broken.docx"], Skipped) and ".docx" in got["broken.docx"].reason
    assert isinstance(got["empty.md"], Skipped) and "no text" in got["empty.md"].reason
    with pytest.raises(Exception) as info:
        extract_text(".xyz", b"")
    assert "unsupported" in str(info.value)


def test_a_bad_file_does_not_stop_the_index(tmp_path: Path, corpus_copy: Path):
    (corpus_copy / "zz_binary.txt").write_bytes(b"\x00\x01\x02" * 100)
    bot = Assistant(settings=default_settings(corpus_dir=corpus_copy, index_dir=tmp_path / "ix"))
    report = bot.index()
    assert report.documents == 5
    assert any(s.startswith("zz_binary.txt: ") and "binary" in s for s in report.skipped)


def test_empty_and_missing_corpus_folders(tmp_path: Path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.json").write_text("{}")
    with pytest.raises(CorpusError, match="no readable"):
        Assistant(settings=default_settings(corpus_dir=empty, index_dir=tmp_path / "i1")).index()
    with pytest.raises(CorpusError, match="does not exist"):
        Assistant(settings=default_settings(corpus_dir=tmp_path / "nope", index_dir=tmp_path / "i2")).index()
