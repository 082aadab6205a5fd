"""Protocol-faithful fakes of the external services, as real HTTP servers on 127.0.0.1 port 0."""
