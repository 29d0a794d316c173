"""Analysis on the city model: isolation, impact and cascades."""
