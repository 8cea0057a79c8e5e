"""OneMap domain: layers, sites, reports, coordinates and storage. No web framework here."""
