"""Argon2 password hashes through pwdlib, computed off the event loop."""

import asyncio
import secrets

from pwdlib import PasswordHash


class Argon2Hasher:
    def __init__(self, hasher: PasswordHash | None = None) -> None:
        self._hasher = hasher or PasswordHash.recommended()
        # Made once up front, so even the first login of an unknown user costs one check.
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))

    async def hash(self, password: str) -> str:
        # Argon2 takes ~0.1 s of CPU; the event loop must keep serving meanwhile.
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password: str, password_hash: str) -> tuple[bool, str | None]:
        return await asyncio.to_thread(self._hasher.verify_and_update, password, password_hash)

    async def burn(self, password: str) -> None:
        await self.verify(password, self._dummy_hash)
