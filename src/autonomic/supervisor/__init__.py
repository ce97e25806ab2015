"""The orchestrator: keeps a workspace's services alive, in order, without ever starting a second copy."""
