"""Login page."""

from __future__ import annotations

import reflex as rx

from components.widgets import brand
from state.session import SessionState


def login_page() -> rx.Component:
    """E-mail and password form, with the reason the previous session ended if any."""
    return rx.center(
        rx.card(
            rx.form(
                rx.vstack(
                    brand("6"),
                    rx.text("Sign in to the operator console", size="2", color_scheme="gray"),
                    rx.cond(
                        SessionState.login_message,
                        rx.callout(SessionState.login_message, icon="info", size="1", width="100%"),
                    ),
                    rx.vstack(
                        rx.text("E-mail", as_="label", size="2", weight="medium", html_for="email"),
                        rx.input(name="email", id="email", type="email", placeholder="you@company.com",
                                 auto_focus=True, width="100%", size="3"),
                        rx.text("Password", as_="label", size="2", weight="medium", html_for="password"),
                        rx.input(name="password", id="password", type="password", width="100%", size="3"),
                        spacing="2",
                        width="100%",
                    ),
                    rx.cond(
                        SessionState.login_error,
                        rx.callout(SessionState.login_error, icon="triangle_alert", color_scheme="red", size="1",
                                   width="100%", id="login-error"),
                    ),
                    rx.button(
                        rx.cond(SessionState.logging_in, rx.spinner(size="2"), rx.icon("log_in", size=16)),
                        "Sign in",
                        type="submit",
                        size="3",
                        width="100%",
                        disabled=SessionState.logging_in,
                        id="login-button",
                    ),
                    spacing="4",
                    width="100%",
                ),
                on_submit=SessionState.login,
                reset_on_submit=False,
            ),
            width="380px",
            size="4",
        ),
        height="100vh",
        background="radial-gradient(circle at 30% 20%, var(--accent-3), var(--gray-2) 60%)",
    )
