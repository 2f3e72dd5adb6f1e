"""What a pasted text names as files (the spellings terminals paste a dropped file in),
and Tab completion in the attach dialog's path field. Pure Python: no app."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chatterm.attachments import Attachment
from chatterm.ui.attach.labels import chip_label, placeholder
from chatterm.ui.attach.paths import complete, pasted_paths


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "my shot.png").write_bytes(b"png")
    (tmp_path / "notes.md").write_text("hi", encoding="utf-8")
    (tmp_path / "notebook").mkdir()
    (tmp_path / "notebook" / "inside.txt").write_text("x", encoding="utf-8")
    (tmp_path / ".hidden").write_text("x", encoding="utf-8")
    return tmp_path


def test_each_spelling_of_a_dropped_file_names_it(files: Path) -> None:
    shot = files / "my shot.png"
    spellings = [
        str(shot),                                   # bare, with its space
        f"'{shot}'",                                 # quoted (GNOME Terminal, Konsole)
        f'"{shot}"',
        str(shot).replace(" ", "\\ "),               # escaped (iTerm2, kitty, macOS)
        "file://" + str(shot).replace(" ", "%20"),   # a URL
        "file://localhost" + str(shot).replace(" ", "%20"),
        f"  '{shot}'  \n".rstrip("\n"),              # with the spaces some terminals add
    ]
    for text in spellings:
        assert pasted_paths(text) == [shot], text


def test_several_dropped_files_are_all_named(files: Path) -> None:
    shot, notes = files / "my shot.png", files / "notes.md"
    text = f"{str(shot).replace(' ', chr(92) + ' ')} {notes}"
    assert pasted_paths(text) == [shot, notes]


def test_a_tilde_path_is_expanded(files: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(files))
    assert pasted_paths("~/notes.md") == [files / "notes.md"]


@pytest.mark.parametrize("text", [
    "hello world",                 # prose
    "notes.md",                    # a bare name is a word, not a dropped file
    "/no/such/file.png",
    "print('/tmp')",
    "'unclosed",
    "file://otherhost/etc/hosts",  # a file on another machine
    "/etc/hosts\n/etc/passwd",     # several lines: text
    "",
])
def test_anything_else_is_left_alone(text: str) -> None:
    assert pasted_paths(text) == []


def test_a_folder_or_one_missing_file_among_several_is_not_offered(files: Path) -> None:
    assert pasted_paths(str(files / "notebook")) == []
    assert pasted_paths(f"{files / 'notes.md'} {files / 'gone.md'}") == []


def test_tab_completes_as_far_as_the_matches_agree(files: Path) -> None:
    base = str(files) + "/"
    assert complete(base + "no") == (base + "note", ["notebook", "notes.md"])
    assert complete(base + "notes") == (base + "notes.md", ["notes.md"])
    # A single folder gets its slash, so the next Tab goes inside.
    assert complete(base + "noteb") == (base + "notebook/", ["notebook"])
    assert complete(base + "notebook/") == (base + "notebook/inside.txt", ["inside.txt"])
    assert complete(base + "zzz") == (base + "zzz", [])
    # Hidden files only when asked for by their dot.
    assert ".hidden" not in complete(base)[1]
    assert complete(base + ".h") == (base + ".hidden", [".hidden"])


def test_tab_expands_the_tilde_for_the_lookup_and_keeps_it(
        files: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(files))
    assert complete("~") == ("~/", [])
    assert complete("~/notes") == ("~/notes.md", ["notes.md"])


def test_tab_in_the_current_folder(files: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(files)
    assert complete("my") == ("my shot.png", ["my shot.png"])
    assert os.getcwd() == str(files)


def test_what_a_chip_and_a_sent_line_say() -> None:
    image = Attachment("shot.png", "image/png", 1_234_567, "a" * 64, 800, 600)
    text = Attachment("notes.md", "text/markdown", 3_500, "b" * 64)
    assert chip_label(image) == "shot.png 1.2 MB 800×600"
    assert chip_label(text) == "notes.md 3.4 KB"
    assert placeholder(image) == "image shot.png · 1.2 MB · 800×600"
    assert placeholder(text) == "file notes.md · 3.4 KB"
    unmeasured = Attachment("odd.webp", "image/webp", 10, "c" * 64)
    assert placeholder(unmeasured) == "image odd.webp · 10 B"


def test_the_model_picker_marks_the_models_that_take_images() -> None:
    from chatterm.catalog import ModelInfo
    from chatterm.ui.pickers.model_picker import ModelListScreen

    def row(vision: bool | None) -> str:
        model = ModelInfo("gpt-4o", "openai", "aimlapi", context_length=128_000, vision=vision)
        return ModelListScreen.row(model, [], False).plain

    assert row(True).endswith("128K ctx  images")
    assert "images" not in row(None) and "images" not in row(False)


def test_a_pending_attachment_s_repr_leaves_its_bytes_out() -> None:
    """Textual describes each worker by repr() of its callable; a reply worker's partial
    holds the turn and its attachments, so a 10 MB image's repr stalled every send."""
    from chatterm.attachments import PendingAttachment

    meta = Attachment("big.png", "image/png", 10_000_000, "d" * 64, 640, 480)
    text = repr(PendingAttachment(meta, b"\x00" * 10_000_000))
    assert "big.png" in text and len(text) < 1000
