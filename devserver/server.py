"""Run the app in production: `python -m devserver.server` (uvicorn in front of the Flask app).

Ordinary requests run on a pool of THREADS threads; live event streams and `?wait=` POSTs are served
by the async gateway (`devserver.asgi`) and hold no thread while they wait.
"""
from __future__ import annotations

import logging

import uvicorn

from config import Config
from devserver.app import create_app, shutdown
from devserver.asgi import Gateway


def main() -> None:
    """Serve on HOST:PORT from the configuration."""
    config = Config.from_env()
    app = create_app(config=config)
    logging.getLogger(__name__).info("DevServer on http://%s:%s", config.HOST, config.PORT)
    try:
        uvicorn.run(Gateway(app, threads=config.THREADS), host=config.HOST, port=config.PORT, lifespan="off",
                    access_log=False, log_level="warning", timeout_graceful_shutdown=5)
    finally:
        shutdown(app)


if __name__ == "__main__":
    main()
