"""お知らせ配信: topics citizens choose, verified member groups, and approved, scheduled broadcasts."""
