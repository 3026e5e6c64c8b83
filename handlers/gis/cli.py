"""`madoguchi gis ...`: load map layers and ask for the nearest places.

The garbage commands moved to `madoguchi garbage`; `gis import-garbage` and `gis remind` stay as
hidden aliases that say so and run the new command.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from bot.command_support import command_session
from handlers.gis.models import Hazard, LayerMeta, LayerScope, PlaceKind


@click.group("gis")
def gis_group() -> None:
    """Map information: shelters, evacuation sites, facilities, AEDs."""


@gis_group.command("import")
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--layer", "key", help="Layer key, e.g. setouchi_shelters (an existing layer is replaced).")
@click.option("--kind", type=click.Choice([k.value for k in PlaceKind]), help="Kind of place (new layers).")
@click.option("--title", help="Title staff see (new layers).")
@click.option("--source", help="Attribution (出典) the license asks for.")
@click.option("--license", "license_", help="License of the data.")
@click.option("--city", help="City the places are in.")
@click.option("--scope", type=click.Choice([s.value for s in LayerScope]), help="city (ours) or neighbour.")
@click.option("--sample/--no-sample", default=None, help="Mark the layer as sample data.")
@click.option("--demo", is_flag=True, help="(Re)load every demo layer shipped in handlers/gis/data.")
def import_command(
    file: Path | None,
    key: str | None,
    kind: str | None,
    title: str | None,
    source: str | None,
    license_: str | None,
    city: str | None,
    scope: str | None,
    sample: bool | None,
    demo: bool,
) -> None:
    """Replace a layer's places with FILE (GeoJSON or CSV), all or nothing.

    A file with problems is refused with the line and the reason; the old layer stays.
    """
    from handlers.gis.parsing import LayerFileError
    from handlers.gis.service import layers as layer_service

    if demo:
        with command_session() as db_session:
            for meta, path in layer_service.demo_layer_metas():
                layer = layer_service.import_layer(
                    db_session=db_session, layer_in=meta, content=path.read_bytes(), filename=path.name
                )
                click.echo(f"{layer.key}: {layer.place_count} places (version {layer.version})")
        return
    if file is None or not key:
        raise click.UsageError("give FILE and --layer KEY (or --demo)")
    with command_session() as db_session:
        existing = layer_service.get_layer_by_key(db_session=db_session, key=key)
        demo_meta = next((m for m, _ in layer_service.demo_layer_metas() if m.key == key), None)
        base = LayerMeta.model_validate(existing, from_attributes=True) if existing is not None else demo_meta
        if base is None and (kind is None or title is None):
            raise click.UsageError("a new layer needs --kind and --title")
        values: dict[str, Any] = base.model_dump() if base is not None else {"key": key}
        overrides: dict[str, Any] = {
            "kind": kind,
            "title": title,
            "source": source,
            "license": license_,
            "city": city,
            "scope": scope,
            "is_sample": sample,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        values["key"] = key
        try:
            meta = LayerMeta.model_validate(values)
            layer = layer_service.import_layer(
                db_session=db_session, layer_in=meta, content=file.read_bytes(), filename=file.name
            )
        except LayerFileError as exc:
            for problem in exc.problems[:50]:
                click.echo(f"{file.name}: {problem}", err=True)
            raise click.ClickException(f"refused: {len(exc.problems)} problem(s); the layer was not changed") from None
        except layer_service.LayerKindMismatch as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"{layer.key}: {layer.place_count} places (version {layer.version})")


@gis_group.command("layers")
def layers_command() -> None:
    """List the layers with their counts and sources (JSON lines)."""
    from handlers.gis.models import LayerRead
    from handlers.gis.service import layers as layer_service

    with command_session() as db_session:
        for layer in layer_service.get_all_layers(db_session=db_session):
            click.echo(LayerRead.model_validate(layer).model_dump_json())


@gis_group.command("nearest")
@click.option("--lat", type=click.FloatRange(-90, 90), required=True)
@click.option("--lon", type=click.FloatRange(-180, 180), required=True)
@click.option("--kind", type=click.Choice([k.value for k in PlaceKind]), default="shelter", show_default=True)
@click.option("--hazard", type=click.Choice([h.value for h in Hazard]))
@click.option("--limit", type=click.IntRange(1, 100), default=5, show_default=True)
@click.option(
    "--scope",
    type=click.Choice(["auto", "city", "all"]),
    default="auto",
    show_default=True,
    help="auto: the city's places inside the city, every city's outside it.",
)
def nearest_command(lat: float, lon: float, kind: str, hazard: str | None, limit: int, scope: str) -> None:
    """Print the nearest places as JSON: [{id, name, address, lat, lon, distance_m, hazards}]."""
    from handlers.gis.service import search as search_service

    with command_session() as db_session:
        if not search_service.indexes(db_session=db_session, kind=PlaceKind(kind)):
            raise click.ClickException(f"no {kind} layer loaded (try: madoguchi gis import --demo)")
        found = search_service.nearest_places(
            db_session=db_session,
            lat=lat,
            lon=lon,
            kind=PlaceKind(kind),
            hazard=Hazard(hazard) if hazard else None,
            limit=limit,
            scope=scope,
        )
    click.echo(json.dumps([f.model_dump(mode="json") for f in found], ensure_ascii=False, indent=2))


# --- moved to `madoguchi garbage` -----------------------------------------------------------------


def _moved(ctx: click.Context, old: str, new: str, name: str) -> click.Command:
    """Says (in one line, on stderr) where the command went; answers the new command.

    Found through the `madoguchi` command itself, which learns its groups from the capability list:
    this package does not import the garbage capability.
    """
    click.echo(f"`madoguchi gis {old}` is deprecated: use `madoguchi {new}`.", err=True)
    root = ctx.find_root().command
    group = root.get_command(ctx, "garbage") if isinstance(root, click.Group) else None
    command = group.get_command(ctx, name) if isinstance(group, click.Group) else None
    if command is None:
        raise click.ClickException("`madoguchi garbage` is not installed")
    return command


@gis_group.command("import-garbage", hidden=True)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def import_garbage_command(ctx: click.Context, file: Path) -> None:
    """Deprecated: `madoguchi garbage import FILE`."""
    ctx.invoke(_moved(ctx, "import-garbage", "garbage import FILE", "import"), file=file)


@gis_group.command("remind", hidden=True)
@click.pass_context
def remind_command(ctx: click.Context) -> None:
    """Deprecated: `madoguchi garbage remind`."""
    ctx.invoke(_moved(ctx, "remind", "garbage remind", "remind"))
