"""Map information's rules, one module per concern; callers use this one face (`gis_service.nearest`).

- layers: importing a file into a layer (validated, replaced atomically), the demo layers' manifest;
- search: nearest places through an in-memory index that follows each layer's version;
- shelters: a shelter's status in a disaster;
- places: the city boundary and the place names (大字, districts) citizens use.

No LINE, no HTTP: flows, the admin, the API and the CLI all call these.
"""

from __future__ import annotations

from handlers.gis.service.layers import (
    LayerKindMismatch,
    delete_layer,
    demo_layer_metas,
    get_all_layers,
    get_layer,
    get_layer_by_key,
    import_layer,
    replace_places,
)
from handlers.gis.service.places import (
    BOUNDARY_SOURCE,
    DISTRICTS,
    TOWNS_SOURCE,
    PlaceRef,
    boundary,
    boundary_rings,
    district_at,
    district_ref,
    in_city,
    normalise,
    resolve_place,
    towns,
)
from handlers.gis.service.search import (
    SCOPES,
    Found,
    LayerIndex,
    disaster_mode,
    find_for_citizen,
    indexes,
    nearest,
    nearest_places,
)
from handlers.gis.service.shelters import PlaceNotFound, get_all_shelters, get_place, reset_all_statuses, set_status

__all__ = [
    "BOUNDARY_SOURCE",
    "DISTRICTS",
    "SCOPES",
    "TOWNS_SOURCE",
    "Found",
    "LayerIndex",
    "LayerKindMismatch",
    "PlaceNotFound",
    "PlaceRef",
    "boundary",
    "boundary_rings",
    "delete_layer",
    "demo_layer_metas",
    "disaster_mode",
    "district_at",
    "district_ref",
    "find_for_citizen",
    "get_all_layers",
    "get_all_shelters",
    "get_layer",
    "get_layer_by_key",
    "get_place",
    "import_layer",
    "in_city",
    "indexes",
    "nearest",
    "nearest_places",
    "normalise",
    "replace_places",
    "reset_all_statuses",
    "resolve_place",
    "set_status",
    "towns",
]
