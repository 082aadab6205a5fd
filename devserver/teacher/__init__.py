"""Teacher tools: the config editor's store and checks, students' own attitudes, moderation."""
