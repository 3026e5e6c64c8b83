"""Map information's rules (no LINE, HTTP or Jinja2 here), one module per concern:

- layers: reading a file into a layer (validated, replaced all or nothing), the demo layers' manifest
- search: the nearest places, through an in-memory index that follows each layer's version
- shelters: a shelter's status in a disaster (開設中 / 満員 / 閉鎖 / 未開設)
- places: the city boundary and the place names (大字, districts) citizens use
- seed: the demo layers

Callers own the transaction (one per inbox event, one per admin request); functions here flush.
"""
