"""A study's lifecycle: create or resume it with its spec inside, load it, delete it; the trial queue."""
