"""The attachment loader: what a file is (by its bytes), its size, its limits, one line."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from attach_samples import gif, jpeg, png, webp

from chatterm.attach_files import check_count, load_bytes, load_file, size_text
from chatterm.attachments import AttachmentError, AttachmentLimits

LIMITS = AttachmentLimits()


@pytest.mark.parametrize(("data", "mime", "size"), [
    (png(640, 480), "image/png", (640, 480)),
    (gif(31, 7), "image/gif", (31, 7)),
    (jpeg(1920, 1080, exif=30_000), "image/jpeg", (1920, 1080)),
    (webp("VP8X", 4000, 3000), "image/webp", (4000, 3000)),
    (webp("VP8L", 16, 9), "image/webp", (16, 9)),
    (webp("VP8", 300, 200), "image/webp", (300, 200)),
])
def test_each_image_type_is_known_by_its_bytes_with_its_dimensions(data, mime, size) -> None:
    meta = load_bytes(data, "picture.bin", LIMITS).meta
    assert (meta.mime, (meta.width, meta.height)) == (mime, size)
    assert meta.kind == "image"
    assert meta.size == len(data)
    assert meta.sha256 == hashlib.sha256(data).hexdigest()


def test_the_extension_does_not_decide_the_type(tmp_path) -> None:
    shot = tmp_path / "shot.txt"
    shot.write_bytes(png(2, 2))
    assert load_file(shot, LIMITS).meta.mime == "image/png"
    fake = tmp_path / "fake.png"
    fake.write_text("just words\n")
    meta = load_file(fake, LIMITS).meta
    assert (meta.mime, meta.kind, meta.name) == ("text/plain", "text", "fake.png")


def test_a_broken_image_header_still_attaches_without_dimensions() -> None:
    meta = load_bytes(b"\x89PNG\r\n\x1a\n\x00\x00", "cut.png", LIMITS).meta
    assert (meta.mime, meta.width, meta.height) == ("image/png", None, None)


@pytest.mark.parametrize(("name", "mime"), [
    ("notes.md", "text/markdown"), ("README.markdown", "text/markdown"),
    ("data.JSON", "application/json"), ("tool.py", "text/x-python"),
    ("server.log", "text/plain"), ("Makefile", "text/plain"),
])
def test_text_mime_comes_from_the_extension(name, mime) -> None:
    assert load_bytes(b"x = 1\n", name, LIMITS).meta.mime == mime


def test_utf8_with_a_bom_is_text_and_keeps_its_bytes() -> None:
    data = "\ufeffcafé\n".encode()
    pending = load_bytes(data, "bom.txt", LIMITS)
    assert pending.meta.kind == "text"
    assert pending.data == data  # stored as given; the BOM is dropped only when sent


@pytest.mark.parametrize(("data", "says"), [
    (b"abc\x00def", "NUL bytes"),
    ("caf\xe9".encode("latin-1"), "byte 3 is not UTF-8"),
    (b"%PDF-1.7\n\xe2\xe3\xcf\xd3\n", "not UTF-8"),
])
def test_binary_or_other_encodings_are_one_line_naming_what_works(data, says) -> None:
    with pytest.raises(AttachmentError) as caught:
        load_bytes(data, "report.pdf", LIMITS)
    message = caught.value.message
    assert message.startswith("report.pdf: ") and says in message
    assert "PNG, JPEG, WebP and GIF images, and UTF-8 text files" in message
    assert "\n" not in message


def test_an_empty_file_is_refused(tmp_path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(AttachmentError, match=r"empty\.txt: the file is empty"):
        load_file(empty, LIMITS)


def test_missing_folder_and_unreadable_are_one_line(tmp_path) -> None:
    with pytest.raises(AttachmentError, match=r"nope\.md: no such file$"):
        load_file(tmp_path / "nope.md", LIMITS)
    with pytest.raises(AttachmentError, match="is a folder, not a file"):
        load_file(tmp_path, LIMITS)
    locked = tmp_path / "locked.txt"
    locked.write_text("secret")
    locked.chmod(0)
    if os.access(locked, os.R_OK):
        pytest.skip("running as a user who can read any file (root)")
    with pytest.raises(AttachmentError, match=r"locked\.txt: cannot read it"):
        load_file(locked, LIMITS)


def test_limits_name_the_size_the_limit_and_the_config_key(tmp_path) -> None:
    small = AttachmentLimits(max_image_bytes=1000, max_text_bytes=10, max_count=2)
    big = tmp_path / "big.png"
    big.write_bytes(png(padding=5000))
    with pytest.raises(AttachmentError) as caught:
        load_file(big, small)
    assert caught.value.message == (f"{big} is 4.9 KB; an image can be up to 1000 B "
                                    "(attachments.max_image_bytes)")
    with pytest.raises(AttachmentError, match=r"attachments\.max_text_bytes"):
        load_bytes(b"eleven char", "a.txt", small)
    check_count(2, small)
    with pytest.raises(AttachmentError, match=r"3 attachments: a message can carry up to 2 "
                                              r"\(attachments\.max_count\)"):
        check_count(3, small)


def test_a_file_over_its_limit_is_refused_from_stat_before_it_is_read(tmp_path,
                                                                      monkeypatch) -> None:
    huge = tmp_path / "huge.png"
    with huge.open("wb") as handle:
        handle.write(png())
        handle.truncate(30 * 1024 * 1024)  # sparse: 30 MB on paper
    import hashlib as real

    def no_hash(*_args: object) -> object:
        raise AssertionError("hashed a file over its limit")

    monkeypatch.setattr(real, "sha256", no_hash)
    with pytest.raises(AttachmentError, match=r"huge\.png is 30 MB; an image can be up to 20 MB"):
        load_file(huge, LIMITS)


def test_a_pipe_is_read_up_to_the_limit(tmp_path) -> None:
    read, write = os.pipe()
    os.write(write, b"piped text\n")
    os.close(write)
    try:
        meta = load_file(f"/dev/fd/{read}", LIMITS).meta
    finally:
        os.close(read)
    assert (meta.kind, meta.size) == ("text", 11)


def test_size_text() -> None:
    assert [size_text(n) for n in (0, 1023, 1024, 1536, 20 * 1024 * 1024, 3 * 1024 ** 3)] \
        == ["0 B", "1023 B", "1 KB", "1.5 KB", "20 MB", "3 GB"]


def test_a_big_binary_is_named_for_what_it_is_not_for_its_size(tmp_path: Path) -> None:
    """qa14 F2: a 3 MB binary was refused as 'a text file can be up to 1 MB', and after
    raising the limit as not text: what it is comes first."""
    blob = tmp_path / "big.bin"
    blob.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(3 * 1024 * 1024))
    with pytest.raises(AttachmentError, match="not an image or a text file"):
        load_file(blob, AttachmentLimits())
    latin = tmp_path / "big.txt"
    latin.write_bytes("café ".encode("latin-1") * 400_000)
    with pytest.raises(AttachmentError, match="not an image or UTF-8 text"):
        load_file(latin, AttachmentLimits())
    # Text too big is still about its size, even when the sniffed start ends mid-character.
    text = tmp_path / "long.md"
    text.write_bytes("é".encode() * 700_000)
    with pytest.raises(AttachmentError, match="max_text_bytes"):
        load_file(text, AttachmentLimits())
