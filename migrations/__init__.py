"""The project's migrations and seeds. ``manifest.py`` lists every one of them explicitly, in order;
nothing is discovered by scanning this folder."""
