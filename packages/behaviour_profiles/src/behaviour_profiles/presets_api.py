"""The routes of the scale presets (``/presets``), which need no storage.

The host mounts :data:`router` at the root (``app.include_router(presets_api.router)``), next to
``behaviour_profiles.api.router`` at ``/profiles``. Presets are static data, so these routes answer
even when profile storage is not configured.
"""

from __future__ import annotations

from fastapi import APIRouter

from behaviour_profiles import service
from behaviour_profiles.models import ScalePreset
from behaviour_profiles.routing import READS

router = APIRouter(tags=["presets"])


@router.get("/presets", summary="The scale presets and their expected bounds", dependencies=READS)
async def list_presets() -> list[ScalePreset]:
    return service.list_presets()


@router.get("/presets/{name}", summary="One scale preset", dependencies=READS)
async def get_preset(name: str) -> ScalePreset:
    return service.find_preset(name)
