"""Map information: shelters, evacuation sites, public facilities and AEDs."""

from pathlib import Path

# The shipped layers, the city boundary and the 大字 points (see data/SOURCES.md).
DATA_DIR = Path(__file__).parent / "data"

# A layer file staff upload in the admin (GeoJSON or CSV).
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
