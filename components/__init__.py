"""Reflex UI: the shell, reusable widgets and the pages built from them."""
