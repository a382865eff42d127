"""Dependencies of the command side's FastAPI routes, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from command_api.bootstrap import CommandContext
from http_edge.auth import Tenant


async def get_context(request: Request) -> CommandContext:
    # async: FastAPI runs a plain `def` dependency in a worker thread.
    context: CommandContext = request.app.state.command
    return context


ContextDep = Annotated[CommandContext, Depends(get_context)]
"""The command side's publisher, stores and estimator, built by its lifespan."""

__all__ = ["ContextDep", "Tenant"]
