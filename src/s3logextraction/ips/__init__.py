"""IP addresses: the anonymous index, its keys and sealing (geolocation will live here too)."""
