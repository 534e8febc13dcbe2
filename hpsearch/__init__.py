"""hpsearch."""
