"""Request, response and persistence models, mapped to one another explicitly."""
