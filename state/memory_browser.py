"""Memory page, the open store: its memories by user, agent or run (listed or searched), each memory's history,
edits and deletions, forgetting a user, and the store's counters per day."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import reflex as rx

from gateway_app.core.errors import GatehouseError
from state.base import counted, failure, in_thread, platform
from state.memory import MemoryState

PAGE = 50
SCOPES = {"user_id": "users", "agent_id": "agents", "run_id": "runs"}
ALL = "(all)"  # the value select's "every user / agent / run" item


@dataclasses.dataclass
class MemoryRow:
    """One memory as the browser lists it."""

    id: str = ""
    text: str = ""
    scope: str = ""  # "user u1 · agent a1"
    metadata: str = ""
    updated: str = ""
    score: str = ""


@dataclasses.dataclass
class EventRow:
    """One event of a memory's history."""

    event: str = ""
    old: str = ""
    new: str = ""
    actor: str = ""
    at: str = ""


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S") if ts else ""


def _memory_row(m: dict) -> MemoryRow:
    scope = " · ".join(f"{key.removesuffix('_id')} {m[key]}" for key in SCOPES if m.get(key))
    return MemoryRow(id=m["id"], text=m["memory"], scope=scope,
                     metadata=", ".join(f"{k}={v}" for k, v in (m.get("metadata") or {}).items()),
                     updated=_when(m.get("updated_at")), score=f"{m['score']:.3f}" if "score" in m else "")


class MemoryBrowserState(MemoryState):
    """The open store's memories (a substate of MemoryState)."""

    scope_key: str = "user_id"
    scope_value: str = ALL
    scope_values: dict[str, list[str]] = {}  # users, agents and runs the store holds memories of
    memories: list[MemoryRow] = []
    has_more: bool = False
    listing: bool = False
    query: str = ""
    searched: str = ""  # the query the list shows results of ("" = the plain list)
    searching: bool = False
    points: list[dict] = []  # per day: adds, updates, deletes, searches
    total: int = 0
    history_id: str = ""
    history: list[EventRow] = []
    edit_id: str = ""
    edit_text: str = ""
    edit_error: str = ""
    delete_id: str = ""
    forget_open: bool = False
    forget_typed: str = ""

    @rx.var
    def value_choices(self) -> list[str]:
        """ALL and the values of the chosen scope."""
        return [ALL, *self.scope_values.get(SCOPES.get(self.scope_key, "users"), [])]

    @rx.var
    def total_label(self) -> str:
        """'1 memory', '3 memories'."""
        return "1 memory" if self.total == 1 else f"{self.total} memories"

    @rx.var
    def scope_counts(self) -> dict[str, str]:
        """'2 users', '1 agent', '0 runs': the scopes the store holds memories of."""
        return {name: counted(len(self.scope_values.get(name, [])), name.removesuffix("s")) for name in SCOPES.values()}

    @rx.var
    def forget_user(self) -> str:
        """The user a 'forget' would remove ("" unless a user is chosen)."""
        return self.scope_value if self.scope_key == "user_id" and self.scope_value != ALL else ""

    async def _identity(self, write: bool = False):
        principal = await in_thread(self.principal)
        return await in_thread(platform().memory_stores.console_identity, principal, self.tenant_arg(), write=write)

    def _scope(self) -> dict:
        return {self.scope_key: self.scope_value} if self.scope_value != ALL else {}

    @rx.event
    def opened(self):
        """A store was opened: a fresh browser with its counters and newest memories."""
        self.scope_key, self.scope_value, self.query, self.searched = "user_id", ALL, "", ""
        self.memories, self.has_more, self.history_id, self.edit_id, self.delete_id = [], False, "", "", ""
        self.forget_open, self.points, self.total = False, [], 0
        return [MemoryBrowserState.load_overview, MemoryBrowserState.load_memories(False)]

    @rx.event
    async def load_overview(self):
        """Counters per day and the scopes the store holds memories of."""
        if not self.store:
            return
        try:
            overview = await platform().memory.overview(await self._identity(), self.store)
        except GatehouseError as exc:
            yield failure(exc)
            return
        self.total = overview["memories"]
        # The list's count of this store follows the browser's changes.
        self.rows = [dataclasses.replace(r, memories=str(self.total)) if r.name == self.store else r
                     for r in self.rows]
        self.scope_values = {"users": overview["users"], "agents": overview["agents"], "runs": overview["runs"]}
        self.points = [{**d, "label": d["day"][5:]} for d in overview["days"]]

    @rx.event
    async def load_memories(self, more: bool = False):
        """The scope's memories, newest first; `more` appends the next page."""
        if not self.store:
            return
        self.listing = True
        yield
        params = {**self._scope(), "limit": PAGE}
        if more and self.memories:
            params["after"] = self.memories[-1].id
        try:
            page = await platform().memory.list(await self._identity(), self.store, params)
        except GatehouseError as exc:
            self.listing = False
            yield failure(exc)
            return
        rows = [_memory_row(m) for m in page["data"]]
        self.memories = [*self.memories, *rows] if more else rows
        self.has_more, self.listing, self.searched = page["has_more"], False, ""

    @rx.event
    def set_scope_key(self, value: str | list[str]):
        """Browse by user, agent or run."""
        value = value[0] if isinstance(value, list) else value
        if value in SCOPES:
            self.scope_key, self.scope_value = value, ALL
            return MemoryBrowserState.load_memories(False)

    @rx.event
    def set_scope_value(self, value: str):
        """One user, agent or run (or all of them)."""
        self.scope_value = value
        return MemoryBrowserState.search if self.searched else MemoryBrowserState.load_memories(False)

    # Search -----------------------------------------------------------------------------------

    @rx.event
    def set_query(self, value: str):
        """The search text."""
        self.query = value

    @rx.event
    async def search(self, form: dict | None = None):
        """The scope's memories closest in meaning to the query, with their scores."""
        if not self.query.strip():
            yield MemoryBrowserState.load_memories(False)
            return
        if not self._scope():
            yield rx.toast.error(f"Pick one of the store's {SCOPES[self.scope_key]} to search: memories are "
                                 "searched within one user, agent or run")
            return
        self.searching = True
        yield
        try:
            found = await platform().memory.search(await self._identity(), self.store,
                                                   {"query": self.query, **self._scope(), "top_k": 20})
        except GatehouseError as exc:
            self.searching = False
            yield failure(exc)
            return
        self.memories = [_memory_row(m) for m in found["results"]]
        self.searching, self.searched, self.has_more = False, self.query, False

    @rx.event
    def clear_search(self):
        """Back to the plain list."""
        self.query = ""
        return MemoryBrowserState.load_memories(False)

    # History ----------------------------------------------------------------------------------

    @rx.event
    async def show_history(self, memory_id: str):
        """Every event of a memory, oldest first ("" closes the dialog)."""
        self.history_id, self.history = memory_id, []
        if not memory_id:
            return
        try:
            events = await platform().memory.history(await self._identity(), self.store, memory_id)
        except GatehouseError as exc:
            self.history_id = ""
            yield failure(exc)
            return
        self.history = [EventRow(event=e["event"], old=e["old_memory"] or "", new=e["new_memory"] or "",
                                 actor=e["actor"], at=_when(e["created_at"])) for e in events["data"]]

    # Edit and delete --------------------------------------------------------------------------

    @rx.event
    def start_edit(self, memory_id: str):
        """Edit a memory's text ("" closes the dialog)."""
        row = next((m for m in self.memories if m.id == memory_id), None)
        self.edit_id, self.edit_text, self.edit_error = memory_id, row.text if row else "", ""

    @rx.event
    def set_edit_text(self, value: str):
        """The text being typed."""
        self.edit_text = value

    @rx.event
    async def save_edit(self):
        """Save the new text (re-embedded; the history keeps the old one)."""
        try:
            await platform().memory.update(await self._identity(write=True), self.store, self.edit_id,
                                           {"text": self.edit_text})
        except GatehouseError as exc:
            self.edit_error = exc.message
            return
        self.edit_id = ""
        yield rx.toast.success("Memory saved")
        yield MemoryBrowserState.search if self.searched else MemoryBrowserState.load_memories(False)
        yield MemoryBrowserState.load_overview

    @rx.event
    def ask_delete_memory(self, memory_id: str):
        """Confirm deleting a memory ("" closes the confirmation)."""
        self.delete_id = memory_id

    @rx.var
    def delete_text(self) -> str:
        """The text of the memory about to be deleted."""
        return next((m.text for m in self.memories if m.id == self.delete_id), "")

    @rx.event
    async def confirm_delete_memory(self):
        """Delete the memory (its history keeps the text it had)."""
        memory_id, self.delete_id = self.delete_id, ""
        try:
            await platform().memory.delete(await self._identity(write=True), self.store, memory_id)
        except GatehouseError as exc:
            yield failure(exc)
            return
        self.memories = [m for m in self.memories if m.id != memory_id]
        yield rx.toast.success("Memory deleted")
        yield MemoryBrowserState.load_overview

    # Forget a user ----------------------------------------------------------------------------

    @rx.event
    def ask_forget(self, value: bool):
        """Open or close the 'forget this user' confirmation."""
        self.forget_open, self.forget_typed = value, ""

    @rx.event
    def set_forget_typed(self, value: str):
        """The user id typed into the confirmation."""
        self.forget_typed = value

    @rx.event
    async def confirm_forget(self):
        """Remove every memory of the user (history keeps only that a deletion happened)."""
        user = self.forget_user
        if not user or self.forget_typed != user:
            return
        self.forget_open = False
        try:
            done = await platform().memory.forget(await self._identity(write=True), self.store, user)
        except GatehouseError as exc:
            yield failure(exc)
            return
        self.scope_value = ALL
        n = done["deleted"]
        yield rx.toast.success(f"Forgot user {user}: {n} {'memory' if n == 1 else 'memories'} removed")
        yield MemoryBrowserState.load_overview
        yield MemoryBrowserState.load_memories(False)
