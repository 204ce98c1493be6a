"""engineer."""
