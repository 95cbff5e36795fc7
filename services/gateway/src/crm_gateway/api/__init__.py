"""The public REST/JSON API (DESIGN §8): FastAPI app, problems, routes and schemas."""
