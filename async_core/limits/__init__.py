"""Rate limits: a pure sliding window, one period parser, window stores (memory, Redis), a
per-loop limiter (``acquire`` waits, ``try_acquire`` answers at once), adapters for many
loops and threads (a limiter per loop, or one on an owner loop), and a weighted leaky bucket for
continuously refilled budgets."""

from async_core.limits.leaky import TokenBudget
from async_core.limits.limiter import AdmissionTimeout, Limiter, LimitSlot
from async_core.limits.memory import MemoryStore
from async_core.limits.owner_loop import OwnerLoopLimiter
from async_core.limits.per_loop import LoopLocal
from async_core.limits.periods import InvalidPeriodError, parse_period
from async_core.limits.store import Decision, Store, StoreUnavailable, Window, default_guard
from async_core.limits.uri import describe, open_store
from async_core.limits.window import PauseCell, SlidingWindow, next_slot, validate_limit

__all__ = [
    "AdmissionTimeout",
    "Decision",
    "InvalidPeriodError",
    "LimitSlot",
    "Limiter",
    "LoopLocal",
    "MemoryStore",
    "OwnerLoopLimiter",
    "PauseCell",
    "SlidingWindow",
    "Store",
    "StoreUnavailable",
    "TokenBudget",
    "Window",
    "default_guard",
    "describe",
    "next_slot",
    "open_store",
    "parse_period",
    "validate_limit",
]
