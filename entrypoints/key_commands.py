"""``media-analysis keys create|list|revoke|webhook-secret``: the operator's tool
for API keys and tenants' webhook signing secrets."""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO
from uuid import UUID, uuid4

from http_edge import api_keys
from infra.database import create_pool
from infra.settings import Settings
from read_model.webhooks import set_tenant_secret


async def _run(
    action: str, settings: Settings, tenant: str | None, name: str | None, key_id: str | None,
    out: TextIO,
) -> int:  # fmt: skip
    pool = await create_pool(settings, max_size=1)
    try:
        if action == "create":
            owner = uuid4() if tenant in (None, "new") else UUID(tenant)
            info, key = await api_keys.create(pool, owner, name or "unnamed")
            out.write(
                f"created key {info.id} for tenant {info.tenant} ({info.name})\n"
                f"key (shown once, store it now): {key}\n"
            )
            return 0
        if action == "webhook-secret":
            if tenant in (None, "new"):
                out.write("keys webhook-secret needs --tenant ID (the tenant's UUID)\n")
                return 2
            secret = await set_tenant_secret(pool, UUID(tenant))
            out.write(
                f"webhook secret of tenant {tenant} (replaces any earlier one; shown once):\n"
                f"{secret}\n"
            )
            return 0
        if action == "list":
            for k in await api_keys.listed(pool):
                state = f"revoked {k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "active"
                out.write(f"{k.id}  tenant {k.tenant}  {state:<24} {k.name}\n")
            return 0
        if key_id is None:
            out.write("keys revoke needs the key's id (see `keys list`)\n")
            return 2
        if await api_keys.revoke(pool, UUID(key_id)):
            out.write(f"revoked key {key_id}\n")
            return 0
        out.write(f"no active key {key_id}\n")
        return 1
    finally:
        await pool.close()


def keys_command(
    action: str,
    settings: Settings,
    *,
    tenant: str | None = None,
    name: str | None = None,
    key_id: str | None = None,
    out: TextIO = sys.stdout,
) -> int:
    try:
        return asyncio.run(_run(action, settings, tenant, name, key_id, out))
    except ValueError as exc:  # a malformed UUID
        out.write(f"keys {action}: {exc}\n")
        return 2
