"""The model picker's multi-select mode (Compare models) against a loopback `/models`."""

from __future__ import annotations

from typing import Any

import pytest
from loopback import json_reply
from test_ui_picker import LIVE_MODELS, LOCAL_MODELS, NOT_YET, PickerHost, providers_for
from textual.widgets import Input, OptionList, Static
from ui_helpers import wait_until

from chatterm.ui.pickers.multi_picker import CompareModelPicker

pytestmark = pytest.mark.slow


def picked_line(picker: CompareModelPicker) -> str:
    return str(picker.query_one("#picker-picked", Static).render())


def marked_rows(picker: CompareModelPicker) -> list[str]:
    options = picker.query_one("#picker-list", OptionList).options
    return [str(option.prompt) for option in options if str(option.prompt).startswith("✓ ")]


async def test_space_marks_enter_compares_and_the_counts_are_enforced(loopback: Any) -> None:
    loopback.always("models", json_reply(LIVE_MODELS))
    loopback.always("/local/v1/models", json_reply(LOCAL_MODELS))
    picker = CompareModelPicker(providers_for(loopback.url), "aimlapi", "gpt-4o-mini")
    app = PickerHost(picker)
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_until(pilot, lambda: "live list loaded" in str(
            picker.query_one("#picker-note", Static).render()), what="live list")
        box = picker.query_one("#picker-filter", Input)
        # The chat's current model starts marked; one is not a comparison.
        assert picked_line(picker) == "1 marked: gpt-4o-mini"
        assert [row.split()[1] for row in marked_rows(picker)] == ["gpt-4o-mini"]
        await pilot.press("enter")
        await wait_until(pilot, lambda: "mark at least 2" in picked_line(picker),
                         what="the refusal")
        assert app.result is NOT_YET and app.screen is picker

        # Space marks the highlighted row and is never typed into the filter box.
        await pilot.press(*"rockt1")
        await wait_until(pilot, lambda: picker.highlighted_model == "acme/rocket-1",
                         what="the filtered row")
        await pilot.press("space")
        assert picked_line(picker) == "2 marked: gpt-4o-mini, acme/rocket-1"
        assert " " not in box.value
        # The filter's text is selected: typing the next model replaces it.
        await pilot.press(*"llama")
        assert box.value == "llama"
        # Another provider's model is named with its provider.
        await pilot.press("tab")
        await wait_until(pilot, lambda: picker.highlighted_model == "llama3.2",
                         what="the local list, filtered")
        await pilot.press("space")
        assert picked_line(picker) == "3 marked: gpt-4o-mini, acme/rocket-1, local/llama3.2"
        await pilot.press(*"qwen")
        await wait_until(pilot, lambda: picker.highlighted_model == "qwen2.5-coder:7b",
                         what="qwen")
        await pilot.press("space")
        # A typed id that is listed nowhere can be marked too; but not a fifth model.
        await pilot.press(*"zz-finetune:v2")
        await wait_until(pilot, lambda: "Use zz-finetune:v2" in str(
            picker.query_one("#picker-list", OptionList).highlighted_option.prompt),
            what="the use-anyway row")
        await pilot.press("space")
        assert picked_line(picker).startswith("4 marked:")
        assert "at most 4: unmark one first" in picked_line(picker)
        # Space on a marked row unmarks it.
        await pilot.press(*"llama")
        await wait_until(pilot, lambda: picker.highlighted_model == "llama3.2", what="llama")
        await pilot.press("space")
        assert picked_line(picker) == ("3 marked: gpt-4o-mini, acme/rocket-1, "
                                       "local/qwen2.5-coder:7b")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.result is not NOT_YET, what="the picks")
    assert app.result == [("aimlapi", "gpt-4o-mini"), ("aimlapi", "acme/rocket-1"),
                          ("local", "qwen2.5-coder:7b")]


async def test_a_click_marks_a_row_and_esc_cancels(loopback: Any) -> None:
    loopback.always("models", json_reply(LIVE_MODELS))
    picker = CompareModelPicker(providers_for(loopback.url), "aimlapi", "gpt-4o-mini")
    app = PickerHost(picker)
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_until(pilot, lambda: "live list loaded" in str(
            picker.query_one("#picker-note", Static).render()), what="live list")
        await pilot.press(*"rockt1")
        await wait_until(pilot, lambda: picker.highlighted_model == "acme/rocket-1",
                         what="the filtered row")
        option_list = picker.query_one("#picker-list", OptionList)
        # Row 0 is the vendor's header; row 1 the model.
        await pilot.click(option_list, offset=(4, 1))
        await wait_until(pilot, lambda: picked_line(picker).startswith("2 marked"),
                         what="the click's mark")
        assert app.result is NOT_YET
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.result is not NOT_YET, what="cancel")
    assert app.result is None
