"""The HTTP and WebSocket adapter over the services: app factory, dependencies, routes, schemas.

Build it with :func:`vigil.api.app.create_app` from an :class:`vigil.api.state.ApiState`.
"""
