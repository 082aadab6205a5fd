"""Pictures students upload: cleaned (`picture`), then stored with a run (`intake`)."""
