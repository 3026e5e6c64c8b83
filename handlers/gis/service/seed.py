"""Demo data: the map layers shipped in data/ (GSI shelters and evacuation sites of the city and its
neighbours, sample facilities and AEDs), loaded where missing."""

from __future__ import annotations

from sqlalchemy.orm import Session

from handlers.gis.service import layers as layer_service


def seed(*, db_session: Session) -> list[str]:
    """Loads every demo layer that is missing (staff uploads are kept); answers the keys loaded."""
    loaded = []
    for meta, path in layer_service.demo_layer_metas():
        if layer_service.get_layer_by_key(db_session=db_session, key=meta.key) is None:
            layer_service.import_layer(
                db_session=db_session, layer_in=meta, content=path.read_bytes(), filename=path.name
            )
            loaded.append(meta.key)
    return loaded
