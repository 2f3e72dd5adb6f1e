"""The model picker against the real catalog, cache and a loopback `/models` server."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from loopback import Hold, json_reply
from test_ui_themes import e2_css
from textual.app import App, ComposeResult
from textual.widgets import Label, OptionList, Static
from ui_helpers import wait_until

from chatterm.catalog import builtin_catalog
from chatterm.providers import ProviderConfig
from chatterm.ui.pickers.model_picker import CUSTOM_OPTION, ModelPicker

pytestmark = pytest.mark.slow

NOT_YET = object()

LIVE_MODELS = {
    "object": "list",
    "data": [
        # AI/ML API shape: type + info (developer, context length).
        {"id": "gpt-4o-mini", "type": "chat-completion",
         "info": {"developer": "Open AI", "contextLength": 128000}},
        {"id": "acme/rocket-1", "type": "chat-completion",
         "info": {"developer": "Acme", "contextLength": 131072}},
        {"id": "evil[bold]markup[/bold]", "type": "chat-completion"},
        {"id": "text-embedding-3-small", "type": "embedding"},
    ],
}
LOCAL_MODELS = {"object": "list", "data": [
    {"id": "llama3.2", "object": "model", "owned_by": "library"},
    {"id": "qwen2.5-coder:7b", "object": "model", "owned_by": "library"},
]}


def providers_for(url: str) -> dict[str, ProviderConfig]:
    return {
        # Named aimlapi so the built-in catalog applies; the key comes from the config.
        "aimlapi": ProviderConfig(name="aimlapi", base_url=url, api_key="sk-test-picker",
                                  max_retries=0),
        "local": ProviderConfig(name="local", base_url=url.replace("/v1", "/local/v1"),
                                max_retries=0),
    }


class PickerHost(App[None]):
    CSS = e2_css()

    def __init__(self, picker: ModelPicker) -> None:
        super().__init__()
        self.picker = picker
        self.result: Any = NOT_YET

    def compose(self) -> ComposeResult:
        yield Label("host")

    def on_mount(self) -> None:
        self.push_screen(self.picker, self._done)

    def _done(self, result: Any) -> None:
        self.result = result


def rows(picker: ModelPicker) -> list[str]:
    return [str(option.prompt) for option in picker.query_one("#picker-list", OptionList).options]


def highlighted(picker: ModelPicker) -> str:
    option = picker.query_one("#picker-list", OptionList).highlighted_option
    return "" if option is None else str(option.prompt)


def note(picker: ModelPicker) -> str:
    return str(picker.query_one("#picker-note", Static).render())


# ---- the screen ---------------------------------------------------------------------------


async def test_list_shows_at_once_then_merges_the_live_list(loopback: Any) -> None:
    release = threading.Event()
    reply = json_reply(LIVE_MODELS)
    reply.before = [Hold(release)]
    loopback.script("models", reply)
    picker = ModelPicker(providers_for(loopback.url), "aimlapi", "gpt-4o-mini")
    app = PickerHost(picker)
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_until(pilot, lambda: app.screen is picker, what="picker")
        # Catalog first, grouped by vendor, current model marked and highlighted.
        catalog_count = sum(1 for m in builtin_catalog("aimlapi") if m.kind == "chat")
        shown = rows(picker)
        assert sum(1 for row in shown if row.startswith(("  ", "● "))) == catalog_count
        assert "OpenAI (" in " ".join(shown)
        headers = [row for row in shown if not row.startswith(("  ", "● "))]
        assert len(headers) >= 5 and headers == sorted(headers, key=str.lower)
        assert highlighted(picker).startswith("● gpt-4o-mini")
        assert "loading the live model list" in note(picker)
        await wait_until(pilot, lambda: loopback.requests, what="the /models request")
        assert loopback.requests[0].headers["authorization"] == "Bearer sk-test-picker"

        release.set()
        await wait_until(pilot, lambda: "live list loaded" in note(picker), what="live list")
        shown = rows(picker)
        assert any(row.startswith("  acme/rocket-1") and "128K ctx" in row for row in shown)
        assert "Acme (1)" in shown
        assert not any("text-embedding" in row for row in shown)  # not a chat model
        # Catalog models the server no longer lists are flagged, not hidden.
        assert any("(not in the live list)" in row for row in shown)
        # Ids are shown literally, never as markup.
        assert any("evil[bold]markup[/bold]" in row for row in shown)
        assert highlighted(picker).startswith("● gpt-4o-mini")


async def test_fuzzy_filter_narrows_and_enter_picks_the_highlighted(loopback: Any) -> None:
    loopback.always("models", json_reply(LIVE_MODELS))
    picker = ModelPicker(providers_for(loopback.url), "aimlapi", "gpt-4o")
    app = PickerHost(picker)
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_until(pilot, lambda: "live list loaded" in note(picker), what="live list")
        before = len(rows(picker))
        await pilot.press(*"rockt1")
        await wait_until(pilot, lambda: len(rows(picker)) < before, what="narrowed list")
        shown = rows(picker)
        assert shown[0] == "Acme (1)"
        assert highlighted(picker).startswith("  acme/rocket-1")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.result is not NOT_YET, what="a pick")
    assert app.result == ("aimlapi", "acme/rocket-1")


async def test_up_down_move_between_models_skipping_headers(loopback: Any) -> None:
    loopback.always("models", json_reply(LIVE_MODELS))
    picker = ModelPicker(providers_for(loopback.url), "aimlapi", "gpt-4o")
    app = PickerHost(picker)
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_until(pilot, lambda: "live list loaded" in note(picker), what="live list")
        await pilot.press(*"gpt4o")
        await wait_until(pilot, lambda: highlighted(picker).startswith("● gpt-4o"),
                         what="best match highlighted")
        first = highlighted(picker)
        await pilot.press("down")
        second = highlighted(picker)
        assert second != first and second.startswith("  gpt-4o")
        await pilot.press("up")
        assert highlighted(picker) == first
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: app.result is not NOT_YET, what="a pick")
    assert app.result == ("aimlapi", second.split()[0])


async def test_an_id_not_in_the_list_can_be_used_anyway(loopback: Any) -> None:
    loopback.always("models", json_reply(LIVE_MODELS))
    picker = ModelPicker(providers_for(loopback.url), "aimlapi", "gpt-4o")
    app = PickerHost(picker)
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_until(pilot, lambda: "live list loaded" in note(picker), what="live list")
        await pilot.press(*"zz-finetune:v2")
        await wait_until(pilot, lambda: rows(picker)[-1].startswith("Use zz-finetune:v2"),
                         what="the use-anyway option")
        option = picker.query_one("#picker-list", OptionList).highlighted_option
        assert option is not None and option.id == CUSTOM_OPTION
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.result is not NOT_YET, what="a pick")
    assert app.result == ("aimlapi", "zz-finetune:v2")


async def test_tab_switches_provider_and_loads_its_list(loopback: Any) -> None:
    loopback.always("models", json_reply(LIVE_MODELS))
    loopback.always("/local/v1/models", json_reply(LOCAL_MODELS))
    picker = ModelPicker(providers_for(loopback.url), "aimlapi", "gpt-4o-mini")
    app = PickerHost(picker)
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_until(pilot, lambda: "live list loaded" in note(picker), what="live list")
        await pilot.press("tab")
        await wait_until(pilot, lambda: picker.viewing == "local", what="provider switch")
        await wait_until(pilot, lambda: "2 models (live list loaded)" in note(picker),
                         what="the local list")
        shown = rows(picker)
        assert "  llama3.2" in shown and "  qwen2.5-coder:7b" in shown
        assert not any(row.startswith("● ") for row in shown)  # current is on aimlapi
        assert "local/v1/models" in loopback.requests[-1].path
        assert "authorization" not in loopback.requests[-1].headers  # keyless provider
        await pilot.press(*"qwen", "enter")
        await wait_until(pilot, lambda: app.result is not NOT_YET, what="a pick")
    assert app.result == ("local", "qwen2.5-coder:7b")


async def test_offline_shows_the_catalog_with_a_note(loopback: Any) -> None:
    providers = providers_for(loopback.url)
    loopback.stop()  # nothing listens there any more
    picker = ModelPicker(providers, "aimlapi", "gpt-4o-mini")
    app = PickerHost(picker)
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_until(pilot, lambda: note(picker).startswith("offline"), what="offline note")
        assert "showing the built-in catalog" in note(picker)
        assert picker.query_one("#picker-note", Static).has_class("-problem")
        assert highlighted(picker).startswith("● gpt-4o-mini")
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.result is not NOT_YET, what="cancel")
    assert app.result is None


async def test_cached_live_list_shows_before_the_server_answers(loopback: Any) -> None:
    # A first picker fetches and caches; a second shows the cached extras at once.
    loopback.always("models", json_reply(LIVE_MODELS))
    providers = providers_for(loopback.url)
    first = ModelPicker(providers, "aimlapi", "gpt-4o-mini")
    app = PickerHost(first)
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_until(pilot, lambda: "live list loaded" in note(first), what="live list")

    release = threading.Event()
    slow = json_reply(LIVE_MODELS)
    slow.before = [Hold(release)]
    loopback.script("models", slow)
    second = ModelPicker(providers, "aimlapi", "gpt-4o-mini")
    app = PickerHost(second)
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_until(pilot, lambda: app.screen is second, what="picker")
        assert any(row.startswith("  acme/rocket-1") for row in rows(second))
        # Until this session hears from the server, an old cached list flags nothing.
        assert not any("not in the live list" in row for row in rows(second))
        release.set()
        await wait_until(pilot, lambda: "live list loaded" in note(second), what="live list")
        await wait_until(pilot, lambda: any("not in the live list" in row
                                            for row in rows(second)), what="flags")


async def test_a_provider_without_its_key_lists_the_catalog_and_says_why(
    loopback: Any,
) -> None:
    providers = {"aimlapi": ProviderConfig(name="aimlapi", base_url=loopback.url,
                                           api_key_env="AIMLAPI_API_KEY")}
    picker = ModelPicker(providers, "aimlapi", "gpt-4o-mini")
    app = PickerHost(picker)
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_until(pilot, lambda: note(picker).startswith("no API key"), what="note")
        assert "AIMLAPI_API_KEY" in note(picker)
        assert len(rows(picker)) > 10
        assert not any("not in the live list" in row for row in rows(picker))
        # Context lengths come from the catalog itself, with no live list at all.
        assert any("claude-3-opus-20240229" in row and "200K" in row for row in rows(picker))
    assert loopback.requests == []  # no pointless 401 round trip
