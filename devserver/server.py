"""Run the app with the production WSGI server (waitress): `python -m devserver.server`."""
from __future__ import annotations

import logging

from waitress import serve

from config import Config
from devserver.app import create_app, shutdown


def main() -> None:
    """Serve on HOST:PORT from the configuration."""
    config = Config.from_env()
    app = create_app(config=config)
    logging.getLogger(__name__).info("DevServer on http://%s:%s", config.HOST, config.PORT)
    try:
        serve(app, host=config.HOST, port=config.PORT, threads=config.THREADS, channel_timeout=120)
    finally:
        shutdown(app)


if __name__ == "__main__":
    main()
