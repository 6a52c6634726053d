"""Bounded per-tab state of the page's server: sessions, their photos and the caches of each photo.

    new tab -> *Store.new_session* -> token (random; the browser keeps it in memory only, so every
        tab has its own) -> *Store.add_photo* -> photo id (random) -> *Store.photo(token, id)*

A photo is reached only through its own session's token: a token never sees another session's
photos, and the browser never names a server path. Memory is bounded: at most ``max_sessions``
sessions (least recently used evicted), ``MAX_PHOTOS_PER_SESSION`` photos each (the oldest dropped),
and ``max_pixels`` photo pixels over all sessions (least recently used sessions evicted first);
every photo is at most ``uploads.MAX_UPLOAD_PIXELS``. Each photo keeps at most
``CACHE_ENTRIES`` network outputs (one per hint list, each with the photo's lightness in float32)
and full-resolution colours (one per hint list and decoding setting), about 20 bytes a pixel in
all: a 40-megapixel photo takes about 0.8 GB, the whole store (``MAX_PIXELS``) about 2.4 GB at most.
"""
from __future__ import annotations

import logging
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from colorclass.server.uploads import MAX_UPLOAD_PIXELS, RequestError

log = logging.getLogger(__name__)

__all__ = ["Photo", "Session", "Store", "LruCache", "MAX_SESSIONS", "MAX_PHOTOS_PER_SESSION", "MAX_PIXELS",
           "CACHE_ENTRIES", "SessionGone"]

MAX_SESSIONS = 8
MAX_PHOTOS_PER_SESSION = 2
MAX_PIXELS = 3 * MAX_UPLOAD_PIXELS    # over all sessions: three photos of the largest size
CACHE_ENTRIES = 2


class SessionGone(RequestError):
    """A token or photo id that is unknown or was evicted (HTTP 410)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=410)


class LruCache:
    """A small thread-safe least-recently-used map; ``get_or_make(key, make)`` computes once."""

    def __init__(self, size: int = CACHE_ENTRIES) -> None:
        self.size = size
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_make(self, key: Any, make: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = make()
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._items)


@dataclass
class Photo:
    """One uploaded photo: ``rgb`` (H, W, 3) uint8, ``suffix`` of the download (".jpg" / ".png"),
    ``name`` shown on the page; ``lock`` serialises the work on this photo (so that two requests
    never compute the same cache entry twice);
    ``predictions`` and ``colours`` cache network outputs and full-resolution colours."""

    id: str
    name: str
    suffix: str
    rgb: np.ndarray
    lock: threading.RLock = field(default_factory=threading.RLock)
    predictions: LruCache = field(default_factory=LruCache)
    colours: LruCache = field(default_factory=LruCache)
    extras: dict = field(default_factory=dict)

    @property
    def pixels(self) -> int:
        return int(self.rgb.shape[0] * self.rgb.shape[1])


@dataclass
class Session:
    token: str
    photos: OrderedDict = field(default_factory=OrderedDict)

    @property
    def pixels(self) -> int:
        return sum(p.pixels for p in self.photos.values())


class Store:
    """All sessions of one server (thread-safe); limits as in the module docstring."""

    def __init__(self, *, max_sessions: int = MAX_SESSIONS, max_photos: int = MAX_PHOTOS_PER_SESSION,
                 max_pixels: int = MAX_PIXELS) -> None:
        self.max_sessions, self.max_photos, self.max_pixels = max_sessions, max_photos, max_pixels
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()
        self.evicted = 0

    def new_session(self) -> str:
        token = secrets.token_urlsafe(18)
        with self._lock:
            self._sessions[token] = Session(token)
            while len(self._sessions) > self.max_sessions:
                self._evict_oldest()
        return token

    def _evict_oldest(self) -> None:
        old, _ = self._sessions.popitem(last=False)
        self.evicted += 1
        log.info("session %s... evicted (least recently used; at most %d sessions)", old[:4], self.max_sessions)

    def _session(self, token: str | None) -> Session:
        session = self._sessions.get(token or "")
        if session is None:
            raise SessionGone("this page's session has expired (the server keeps the "
                              f"{self.max_sessions} most recent tabs, or it was restarted); reload the page")
        self._sessions.move_to_end(session.token)
        return session

    def check(self, token: str | None) -> None:
        """Raise SessionGone unless ``token`` is a live session."""
        with self._lock:
            self._session(token)

    def add_photo(self, token: str | None, *, rgb: np.ndarray, suffix: str, name: str) -> Photo:
        """A new photo in ``token``'s session (its oldest photo dropped beyond the per-session limit;
        least recently used other sessions evicted beyond the pixel budget)."""
        photo = Photo(id=secrets.token_urlsafe(9), name=name, suffix=suffix, rgb=rgb)
        with self._lock:
            session = self._session(token)
            session.photos[photo.id] = photo
            while len(session.photos) > self.max_photos:
                session.photos.popitem(last=False)
            while self.pixels > self.max_pixels and next(iter(self._sessions)) != session.token:
                self._evict_oldest()
            while self.pixels > self.max_pixels and len(session.photos) > 1:
                session.photos.popitem(last=False)
        return photo

    def photo(self, token: str | None, photo_id: Any) -> Photo:
        """The photo ``photo_id`` of ``token``'s session (SessionGone when unknown or evicted)."""
        with self._lock:
            session = self._session(token)
            photo = session.photos.get(photo_id) if isinstance(photo_id, str) else None
            if photo is None:
                raise SessionGone("this photo is no longer on the server (a newer upload or other tabs "
                                  "replaced it); upload it again")
            session.photos.move_to_end(photo.id)
            return photo

    @property
    def pixels(self) -> int:
        return sum(s.pixels for s in self._sessions.values())

    def __len__(self) -> int:
        return len(self._sessions)
