"""Map information: shelters, evacuation sites, public facilities and AEDs."""

from pathlib import Path

# The shipped layers, the city boundary and the 大字 points (see data/SOURCES.md).
DATA_DIR = Path(__file__).parent / "data"
