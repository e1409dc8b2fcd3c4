"""Playground page."""

from __future__ import annotations

import reflex as rx

from components.shell import shell
from components.widgets import empty_state, no_tenant, page_header
from state.playground import ChatTurn, PlaygroundState


def _bubble(turn: ChatTurn) -> rx.Component:
    mine = turn.role == "user"
    return rx.hstack(
        rx.cond(mine, rx.spacer()),
        rx.vstack(
            rx.box(
                rx.cond(turn.content != "", rx.markdown(turn.content, class_name="bubble-text"),
                        rx.hstack(rx.icon("hourglass", size=14, color="var(--gray-10)"),
                                  rx.text("thinking…", size="2", color_scheme="gray"), align="center")),
                padding_x="0.9em",
                padding_y="0.5em",
                border_radius="var(--radius-4)",
                background=rx.cond(mine, "var(--accent-9)", rx.cond(turn.failed, "var(--red-3)", "var(--gray-3)")),
                color=rx.cond(mine, "white", "var(--gray-12)"),
                max_width="680px",
                class_name=rx.cond(mine, "turn-user", "turn-assistant"),
            ),
            rx.cond(turn.stats != "", rx.text(turn.stats, size="1", color_scheme="gray", class_name="turn-stats")),
            align=rx.cond(mine, "end", "start"),
            spacing="1",
        ),
        width="100%",
    )


def _settings() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text("Model", size="2", weight="medium"),
            rx.select(PlaygroundState.models, value=PlaygroundState.model, on_change=PlaygroundState.set_model,
                      width="100%", id="playground-model"),
            rx.hstack(rx.text("Temperature", size="2", weight="medium"), rx.spacer(),
                      rx.text(PlaygroundState.temperature, size="2"), width="100%"),
            rx.slider(default_value=[0.7], min=0, max=2, step=0.1, on_value_commit=PlaygroundState.set_temperature),
            rx.text("System prompt", size="2", weight="medium"),
            rx.text_area(value=PlaygroundState.system_prompt, on_change=PlaygroundState.set_system_prompt,
                         rows="5", width="100%"),
            rx.text("Requests go through the client API's path: quotas apply and each answer is recorded in "
                    "usage under the playground.", size="1", color_scheme="gray"),
            rx.button(rx.icon("eraser", size=14), "New conversation", variant="soft", color_scheme="gray",
                      on_click=PlaygroundState.clear, width="100%"),
            spacing="3",
            width="100%",
        ),
        width="300px",
        min_width="300px",
    )


def _conversation() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.cond(PlaygroundState.prompt_note != "",
                    rx.callout(f"Loaded from prompt {PlaygroundState.prompt_note}: send to run it.", icon="file_text",
                               size="1", width="100%", id="prompt-note")),
            rx.auto_scroll(
                rx.cond(
                    PlaygroundState.turns.length() == 0,
                    rx.center(rx.text("Ask something to start.", color_scheme="gray"), height="100%"),
                    rx.vstack(rx.foreach(PlaygroundState.turns, _bubble), spacing="3", width="100%"),
                ),
                height="55vh",
                width="100%",
                padding="0.5em",
                id="conversation",
            ),
            rx.form(
                rx.hstack(
                    rx.input(value=PlaygroundState.draft, on_change=PlaygroundState.set_draft,
                             placeholder="Message the model…", width="100%", size="3", id="playground-input",
                             disabled=PlaygroundState.streaming),
                    # No spinner while streaming: its animation, repainted 60 times a second, took a core
                    # from a model running on the same machine (a local model's answer: 17 s, not 2).
                    rx.button(rx.cond(PlaygroundState.streaming, rx.icon("hourglass", size=16), rx.icon("send", size=16)),
                              rx.cond(PlaygroundState.streaming, "Answering…", "Send"), type="submit", size="3",
                              disabled=PlaygroundState.streaming, id="playground-send"),
                    width="100%",
                ),
                on_submit=PlaygroundState.send,
                reset_on_submit=False,
                width="100%",
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def playground_page() -> rx.Component:
    """Chat with the tenant's models."""
    return shell(
        page_header("Playground", f"Try the tenant's models · tenant {PlaygroundState.active_tenant}"),
        rx.cond(
            PlaygroundState.tenant_missing,
            no_tenant(),
            rx.cond(
                PlaygroundState.unavailable != "",
                empty_state("ban", "Playground unavailable", PlaygroundState.unavailable),
                rx.cond(
                    PlaygroundState.models.length() == 0,
                    empty_state("message_square", "No chat models yet",
                                "Publish a chat model on the Models page to try it here.",
                                rx.link(rx.button("Go to models", variant="soft"), href="/models")),
                    rx.hstack(_settings(), _conversation(), align="start", spacing="4", width="100%"),
                ),
            ),
        ),
    )
